#!/usr/bin/env python3
"""Exports the networks to ONNX files that follow docs/onnx-contracts.md exactly.

  python3 training/export.py --config tiny --random --out .cache/models/tiny
  python3 training/export.py --checkpoint runs/smoke/checkpoint.pt --out models/neural --manifest models/manifest.json

Files (contract names in brackets):
  landmark_generator.onnx  [lipsync.landmark-generator.v1]  mel, pose, ref_landmarks -> lip, jaw
  renderer.onnx            [lipsync.renderer.v1]            masked_face, target_sketches, ref_images, ref_sketches, mel -> face
  renderer_refenc.onnx     [lipsync.renderer-refenc.v1]     ref_images, ref_sketches -> ref_feat1, ref_feat2
  renderer_frame.onnx      [lipsync.renderer-frame.v1]      masked_face, target_sketches, ref_images, ref_feat1, ref_feat2, mel -> face
Dynamic dimensions: B (batch) everywhere and N (references) for the renderer. Opset 17, float32.
`--golden DIR` also writes fixed inputs and the PyTorch outputs (raw little-endian float32 + golden.json) so that a
test can run the ONNX files in onnxruntime and compare.
"""
import argparse
import datetime
import hashlib
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lipsync_nets import LandmarkGenerator, NetConfig, Renderer, config_by_name  # noqa: E402

OPSET = 17
ALL = ["generator", "renderer", "refenc", "frame"]
FILES = {
    "generator": "landmark_generator.onnx",
    "renderer": "renderer.onnx",
    "refenc": "renderer_refenc.onnx",
    "frame": "renderer_frame.onnx",
}
CONTRACTS = {
    "generator": "lipsync.landmark-generator.v1",
    "renderer": "lipsync.renderer.v1",
    "refenc": "lipsync.renderer-refenc.v1",
    "frame": "lipsync.renderer-frame.v1",
}


def load(args):
    if args.checkpoint:
        ck = torch.load(args.checkpoint, map_location="cpu")
        cfg = NetConfig(**ck["config"])
        gen, ren = LandmarkGenerator(cfg), Renderer(cfg)
        if "generator" in ck:
            gen.load_state_dict(ck["generator"])
        if "renderer" in ck:
            ren.load_state_dict(ck["renderer"])
        meta = {k: ck.get(k) for k in ("data", "metrics", "training", "source")}
    else:
        torch.manual_seed(args.seed)
        cfg = config_by_name(args.config)
        gen, ren = LandmarkGenerator(cfg), Renderer(cfg)
        meta = {"data": None, "metrics": None, "training": f"none: random weights (seed {args.seed})", "source": None}
    return cfg, gen.eval(), ren.eval(), meta


def example_inputs(kind, cfg, b=2, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    mel = lambda *s: (torch.rand(*s, generator=g) * 8 - 4)  # noqa: E731  Wav2Lip-normalised range [-4, 4]
    u = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    if kind == "generator":
        return {"mel": mel(b, 5, 1, 80, 16), "pose": u(b, 5, 2, 74), "ref_landmarks": u(b, 15, 2, 131)}
    if kind == "renderer":
        return {
            "masked_face": u(b, 3, 128, 128),
            "target_sketches": u(b, 15, 128, 128),
            "ref_images": u(b, n, 3, 128, 128),
            "ref_sketches": u(b, n, 3, 128, 128),
            "mel": mel(b, 1, 80, 16),
        }
    if kind == "refenc":
        return {"ref_images": u(b, n, 3, 128, 128), "ref_sketches": u(b, n, 3, 128, 128)}
    if kind == "frame":
        return {
            "masked_face": u(b, 3, 128, 128),
            "target_sketches": u(b, 15, 128, 128),
            "ref_images": u(b, n, 3, 128, 128),
            "ref_feat1": torch.relu(torch.randn(b, n, cfg.r_h1, 128, 128, generator=g)),
            "ref_feat2": torch.relu(torch.randn(b, n, cfg.r_h2, 64, 64, generator=g)),
            "mel": mel(b, 1, 80, 16),
        }
    raise ValueError(kind)


OUTPUTS = {
    "generator": ["lip", "jaw"],
    "renderer": ["face"],
    "refenc": ["ref_feat1", "ref_feat2"],
    "frame": ["face"],
}


def dynamic_axes(kind, inputs):
    axes = {}
    for name in list(inputs) + OUTPUTS[kind]:
        axes[name] = {0: "B"}
        if name in ("ref_images", "ref_sketches", "ref_feat1", "ref_feat2"):
            axes[name][1] = "N"
    return axes


def module_for(kind, gen, ren):
    if kind == "generator":
        return gen
    if kind == "renderer":
        return ren
    if kind == "refenc":
        return ren.ref_encoder
    return ren.frame_renderer()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_one(kind, cfg, gen, ren, out_dir, static_batch=False):
    module = module_for(kind, gen, ren).eval()
    inputs = example_inputs(kind, cfg, b=1, n=2, seed=1)
    path = os.path.join(out_dir, FILES[kind])
    with torch.no_grad():
        torch.onnx.export(
            module,
            tuple(inputs.values()),
            path,
            input_names=list(inputs),
            output_names=OUTPUTS[kind],
            # --static-batch exists only to produce a model that breaks the contract (tests of the checker).
            dynamic_axes=None if static_batch else dynamic_axes(kind, inputs),
            opset_version=OPSET,
            do_constant_folding=True,
        )
    return path


def write_golden(kinds, cfg, gen, ren, golden_dir):
    os.makedirs(golden_dir, exist_ok=True)
    index = {}
    for kind in kinds:
        module = module_for(kind, gen, ren).eval()
        # B=2 and N=3 differ from the export's example sizes, so the test also proves the dynamic dimensions.
        inputs = example_inputs(kind, cfg, b=2, n=3, seed=7)
        with torch.no_grad():
            outs = module(*inputs.values())
        if isinstance(outs, torch.Tensor):
            outs = (outs,)
        entry = {"inputs": {}, "outputs": {}}
        for name, t in list(inputs.items()) + list(zip(OUTPUTS[kind], outs)):
            fname = f"{kind}.{name}.f32"
            t.detach().numpy().astype("<f4").tofile(os.path.join(golden_dir, fname))
            side = "inputs" if name in inputs else "outputs"
            entry[side][name] = {"file": fname, "shape": list(t.shape)}
        index[kind] = entry
    with open(os.path.join(golden_dir, "golden.json"), "w") as f:
        json.dump(index, f, indent=2)


def update_manifest(manifest_path, entries):
    """Surgical edit: sets only the entries whose ids we export; keeps everything else as it is. The project's manifest
    keeps `models` as an object keyed by id (a list of {id, ...} is accepted too)."""
    doc = {"models": {}}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            doc = json.load(f)
    models = doc.setdefault("models", {})
    for e in entries:
        if isinstance(models, dict):
            models[e["id"]] = {k: v for k, v in e.items() if k != "id"}
        else:
            idx = next((i for i, m in enumerate(models) if m.get("id") == e["id"]), None)
            if idx is None:
                models.append(e)
            else:
                models[idx] = e
    with open(manifest_path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="training checkpoint (training/train.py); without it: random weights")
    ap.add_argument("--random", action="store_true", help="export random weights (speed tests, contract tests)")
    ap.add_argument("--config", default="tiny", choices=["tiny", "full"], help="width config for --random")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--models", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    ap.add_argument("--golden", help="also write fixed inputs + PyTorch outputs here")
    ap.add_argument("--manifest", help="models/manifest.json to update with one entry per exported file")
    ap.add_argument("--id-prefix", default="neural", help="manifest id prefix (id = <prefix>.<config>.<model>)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--static-batch", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.checkpoint and not args.random:
        ap.error("give --checkpoint PATH or --random")
    torch.set_num_threads(args.threads)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    for k in kinds:
        if k not in ALL:
            ap.error(f"unknown model {k!r}; known: {', '.join(ALL)}")
    cfg, gen, ren, meta = load(args)
    os.makedirs(args.out, exist_ok=True)
    entries = []
    for kind in kinds:
        path = export_one(kind, cfg, gen, ren, args.out, args.static_batch)
        module = module_for(kind, gen, ren)
        params = sum(p.numel() for p in module.parameters())
        print(f"[export] {kind}: {path} ({os.path.getsize(path) / 1e6:.1f} MB, {params / 1e6:.2f} M parameters)")
        entries.append(
            {
                "id": f"{args.id_prefix}.{cfg.name}.{kind}",
                # Paths in the manifest are relative to the repository root (the manifest's parent folder).
                "file": os.path.relpath(path, os.path.dirname(os.path.dirname(os.path.abspath(args.manifest))))
                if args.manifest
                else path,
                "sha256": sha256(path),
                "bytes": os.path.getsize(path),
                "contract": CONTRACTS[kind],
                "architecture": {
                    "family": "IP_LAP-shaped (CVPR 2023), written for lipsync-sfu (training/lipsync_nets)",
                    "config": cfg.to_dict(),
                    "parameters": params,
                    "opset": OPSET,
                    "dtype": "float32",
                },
                "data": meta.get("data"),
                "training": meta.get("training"),
                "metrics": meta.get("metrics"),
                "source": meta.get("source") or "trained or initialised in this repository; no downloaded weights",
                "licence": "same as the repository's code (weights produced here); no third-party weights",
                "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            }
        )
    if args.golden:
        write_golden(kinds, cfg, gen, ren, args.golden)
        print(f"[export] golden inputs/outputs in {args.golden}")
    if args.manifest:
        update_manifest(args.manifest, entries)
        print(f"[export] manifest {args.manifest}: {len(entries)} entries")


if __name__ == "__main__":
    main()
