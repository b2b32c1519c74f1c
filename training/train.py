#!/usr/bin/env python3
"""Trains the two IP_LAP-shaped stages on folders written by `lipsync prep`.

  python3 training/train.py --data .cache/prep --out runs/smoke --config tiny --gen-steps 60 --ren-steps 30

Stage 1 (landmark generator): L1 on lip + jaw points + lambda_c (1) x L1 on frame-to-frame differences (continuity).
Stage 2 (renderer): L1 on the output face + L1 on the warped reference image. The published method adds VGG19
perceptual/style losses and a patch GAN; VGG19 weights cannot be downloaded here, so those are left out (a run here
is a loop check, not a quality run).
Held-out metrics (last 20% of each clip's frames): lip LMD (mean Euclidean distance of the 40 lip points in crop
coordinates, the paper's LipLMD unit) against a baseline that repeats the references' mean lip shape; renderer L1 and
PSNR on the lower half. Writes checkpoint.pt (config, weights, data, metrics) and metrics.json into --out.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lipsync_data import LIPS, Sampler, load_clips  # noqa: E402
from lipsync_nets import LandmarkGenerator, Renderer, config_by_name  # noqa: E402


def gen_loss(lip, jaw, lip_t, jaw_t, lambda_c=1.0):
    pred = torch.cat([lip, jaw], dim=3)
    tgt = torch.cat([lip_t, jaw_t], dim=3)
    l1 = F.l1_loss(pred, tgt)
    cont = F.l1_loss(pred[:, 1:] - pred[:, :-1], tgt[:, 1:] - tgt[:, :-1])
    return l1 + lambda_c * cont, l1


@torch.no_grad()
def eval_generator(gen, sampler, batches=4, b=16):
    gen.eval()
    lmd, base = [], []
    for _ in range(batches):
        mel, pose, ref, lip_t, jaw_t = sampler.generator_batch(b)
        lip, _ = gen(mel, pose, ref)
        lmd.append(torch.linalg.norm(lip - lip_t, dim=2).mean().item())
        mean_lip = ref[:, :, :, LIPS].mean(dim=1, keepdim=True)  # (B,1,2,40)
        base.append(torch.linalg.norm(mean_lip - lip_t, dim=2).mean().item())
    gen.train()
    return float(np.mean(lmd)), float(np.mean(base))


@torch.no_grad()
def eval_renderer(ren, sampler, batches=2, b=4):
    ren.eval()
    l1s, psnrs = [], []
    for _ in range(batches):
        masked, sk, rimg, rsk, mel, face = sampler.renderer_batch(b)
        out = ren(masked, sk, rimg, rsk, mel)
        lo, hi = out[:, :, 64:], face[:, :, 64:]
        l1s.append(F.l1_loss(lo, hi).item())
        mse = F.mse_loss(lo, hi).item()
        psnrs.append(10 * math.log10(1.0 / max(mse, 1e-10)))
    ren.train()
    return float(np.mean(l1s)), float(np.mean(psnrs))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder of `lipsync prep` outputs")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default="tiny", choices=["tiny", "full"])
    ap.add_argument("--tiny", action="store_true", help="same as --config tiny")
    ap.add_argument("--gen-steps", type=int, default=200)
    ap.add_argument("--ren-steps", type=int, default=100)
    ap.add_argument("--gen-batch", type=int, default=16)
    ap.add_argument("--ren-batch", type=int, default=4)
    ap.add_argument("--refs", type=int, default=3, help="reference images per renderer item (N; 3 in IP_LAP)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", help="checkpoint to start from")
    args = ap.parse_args()
    if args.tiny:
        args.config = "tiny"
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    cfg = config_by_name(args.config)
    clips = load_clips(args.data)
    train = Sampler(clips, "train", seed=args.seed, n_refs=args.refs)
    held = Sampler(clips, "held", seed=args.seed + 1, n_refs=args.refs)
    gen, ren = LandmarkGenerator(cfg), Renderer(cfg)
    if args.resume:
        ck = torch.load(args.resume, map_location="cpu")
        gen.load_state_dict(ck["generator"])
        ren.load_state_dict(ck["renderer"])
    started = time.time()
    log = lambda m: print(f"[train {time.time() - started:6.1f}s] {m}", flush=True)  # noqa: E731
    log(f"config {cfg.name}; {len(clips)} clips, {len(train.items_gen)} train / {len(held.items_gen)} held-out windows")

    metrics = {}
    lmd0, base = eval_generator(gen, held)
    metrics["generator.heldout.lipLmd.before"] = lmd0
    metrics["generator.heldout.lipLmd.meanRefBaseline"] = base
    opt = torch.optim.Adam(gen.parameters(), lr=args.lr)
    gen.train()
    for step in range(1, args.gen_steps + 1):
        mel, pose, ref, lip_t, jaw_t = train.generator_batch(args.gen_batch)
        lip, jaw = gen(mel, pose, ref)
        loss, l1 = gen_loss(lip, jaw, lip_t, jaw_t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 1 or step % max(1, args.gen_steps // 5) == 0 or step == args.gen_steps:
            log(f"generator step {step}: loss {loss.item():.4f} (L1 {l1.item():.4f})")
    metrics["generator.train.loss.last"] = loss.item() if args.gen_steps else None
    lmd1, _ = eval_generator(gen, held)
    metrics["generator.heldout.lipLmd.after"] = lmd1
    log(f"held-out lip LMD {lmd0:.4f} -> {lmd1:.4f} (baseline mean reference lips: {base:.4f})")

    l1_0, psnr0 = eval_renderer(ren, held)
    metrics["renderer.heldout.lowerHalfL1.before"] = l1_0
    opt = torch.optim.Adam(ren.parameters(), lr=args.lr)
    ren.train()
    for step in range(1, args.ren_steps + 1):
        masked, sk, rimg, rsk, mel, face = train.renderer_batch(args.ren_batch)
        out, warped = ren(masked, sk, rimg, rsk, mel, return_warped=True)
        loss = F.l1_loss(out, face) + F.l1_loss(warped, face)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 1 or step % max(1, args.ren_steps // 5) == 0 or step == args.ren_steps:
            log(f"renderer step {step}: loss {loss.item():.4f}")
    metrics["renderer.train.loss.last"] = loss.item() if args.ren_steps else None
    l1_1, psnr1 = eval_renderer(ren, held)
    metrics["renderer.heldout.lowerHalfL1.after"] = l1_1
    metrics["renderer.heldout.lowerHalfPsnrDb.before"] = psnr0
    metrics["renderer.heldout.lowerHalfPsnrDb.after"] = psnr1
    log(f"held-out renderer lower-half L1 {l1_0:.4f} -> {l1_1:.4f}, PSNR {psnr0:.2f} -> {psnr1:.2f} dB")

    data = {
        "folder": os.path.abspath(args.data),
        "clips": [c.meta.get("source", c.name) for c in clips],
        "frames": int(sum(c.frames for c in clips)),
        "split": "per clip: first 80% of frames train, last 20% held out",
    }
    training = {
        "genSteps": args.gen_steps,
        "renSteps": args.ren_steps,
        "genBatch": args.gen_batch,
        "renBatch": args.ren_batch,
        "lr": args.lr,
        "seconds": round(time.time() - started, 1),
        "losses": "generator L1 + continuity; renderer L1 (output + warped); no VGG/GAN (no pretrained VGG here)",
        "torch": torch.__version__,
    }
    torch.save(
        {
            "config": cfg.to_dict(),
            "generator": gen.state_dict(),
            "renderer": ren.state_dict(),
            "metrics": metrics,
            "data": data,
            "training": training,
        },
        os.path.join(args.out, "checkpoint.pt"),
    )
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump({"metrics": metrics, "data": data, "training": training}, f, indent=2)
    log(f"wrote {os.path.join(args.out, 'checkpoint.pt')}")


if __name__ == "__main__":
    main()
