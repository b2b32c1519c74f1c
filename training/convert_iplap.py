#!/usr/bin/env python3
"""Converts checkpoints of the public IP_LAP release (Weizhi-Zhong/IP_LAP: models/landmark_generator.py,
models/video_renderer.py) into this project's networks (training/lipsync_nets, config `full`), so that
training/export.py can emit them under the project's ONNX contracts.

  python3 training/convert_iplap.py --generator landmarkgenerator_checkpoint.pth \
      --renderer renderer_checkpoint.pth --out runs/iplap/checkpoint.pt
  python3 training/export.py --checkpoint runs/iplap/checkpoint.pt --out models/neural/iplap

The name mapping was written from the public module layout (module and parameter names); no weights were available
here, so it is tested on state dicts synthesised with those names (test/neural/training.test.ts).

Caveats a user must check with the real checkpoint:
- Point order. The public generator reads 131 points as [74 pose | 57 content] and writes content as
  [17 jaw | 40 lips]; this project's contract orders the subset as [pose | 40 lips | 17 jaw] and the public
  preprocessing's order inside each part is not confirmed. The converter maps the heads (lip head -> `lip`, jaw
  head -> `jaw`) so outputs are right by name, but the reference encoder's input order follows the public code:
  use the converted generator only with `referencePointOrder: 'iplap'` until that order is verified.
- The public renderer's `translation.conv1/conv2` have no bias; ours do: the converter sets those biases to zero
  (same function).
- `perceptual.*` (frozen VGG19 used only for losses) and the positional-encoding buffers (recomputed identically)
  are dropped.
"""
import argparse
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lipsync_nets import LandmarkGenerator, Renderer, full_config  # noqa: E402

# (public regex, ours) applied in order; the first match wins. \1 etc. refer to the regex groups.
GENERATOR_RULES = [
    (r"^(mel_encoder|pose_encoder|ref_encoder)\.(\d+)\.conv_block\.0\.(.+)$", None),  # handled in code
    (r"^(mel_encoder|pose_encoder|ref_encoder)\.(\d+)\.conv_block\.1\.(.+)$", None),
    (r"^fusion_transformer\.modality\.weight$", "modality.weight"),
    (r"^fusion_transformer\.transformer_encoder\.layers\.(\d+)\.(.+)$", r"layers.\1.\2"),
    (r"^mouse_keypoint_map\.(weight|bias)$", r"lip_head.\1"),
    (r"^jaw_keypoint_map\.(weight|bias)$", r"jaw_head.\1"),
    (r"^Norm\.(weight|bias)$", r"embed_norm.\1"),
]
GENERATOR_DROP = [r"^fusion_transformer\.position_[av]\.pe$"]

ENCODER_NAMES = {"mel_encoder": "audio_encoder", "pose_encoder": "pose_encoder", "ref_encoder": "ref_encoder"}

SPADE_BLOCK = {"flow_module.spade_layer_1": "alignment.spade1", "flow_module.spade_layer_2": "alignment.spade2",
               "flow_module.spade_layer_4": "alignment.spade3", "translation.spade_1": "translation.spade1",
               "translation.spade_2": "translation.spade2", "translation.spade_4": "translation.spade3"}
ADAIN_BLOCK = {"translation.adain_1": "translation.adain1", "translation.adain_2": "translation.adain2"}
RENDERER_SIMPLE = {
    "flow_module.conv1.": "ref_encoder.conv1.",
    "flow_module.conv1_bn.": "ref_encoder.bn1.",
    "flow_module.conv2.": "ref_encoder.conv2.",
    "flow_module.conv2_bn.": "ref_encoder.bn2.",
    "flow_module.conv_4.": "alignment.flow.",
    "flow_module.conv_5.0.": "alignment.weight.0.",
    "flow_module.conv_5.2.": "alignment.weight.2.",
    "translation.conv1.": "translation.enc1.conv.",
    "translation.conv1_bn.": "translation.enc1.bn.",
    "translation.conv2.": "translation.enc2.conv.",
    "translation.conv2_bn.": "translation.enc2.bn.",
    "translation.conv_last.": "translation.out.",
}
RENDERER_DROP = [r"^perceptual\."]


def strip_wrappers(sd):
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    out = {}
    for k, v in sd.items():
        out[k[len("module."):] if k.startswith("module.") else k] = v
    return out


def map_generator_name(k):
    m = re.match(r"^(mel_encoder|pose_encoder|ref_encoder)\.(\d+)\.conv_block\.([01])\.(.+)$", k)
    if m:
        enc, idx, part, rest = m.groups()
        return f"{ENCODER_NAMES[enc]}.{idx}.{'conv' if part == '0' else 'bn'}.{rest}"
    for pat, rep in GENERATOR_RULES:
        if rep is not None and re.match(pat, k):
            return re.sub(pat, rep, k)
    return None


def map_renderer_name(k):
    for pub, ours in SPADE_BLOCK.items():
        if k.startswith(pub + "."):
            rest = k[len(pub) + 1:]
            rest = re.sub(r"^conv_([12])\.", r"conv\1.", rest)
            rest = re.sub(r"^spade_layer_([12])\.conv1\.", r"norm\1.shared.", rest)
            rest = re.sub(r"^spade_layer_([12])\.(gamma|beta)\.", r"norm\1.\2.", rest)
            return f"{ours}.{rest}"
    for pub, ours in ADAIN_BLOCK.items():
        if k.startswith(pub + "."):
            rest = k[len(pub) + 1:]
            rest = re.sub(r"^conv_([12])\.", r"conv\1.", rest)
            rest = re.sub(r"^adain_layer_([12])\.", r"norm\1.", rest)
            return f"{ours}.{rest}"
    m = re.match(r"^translation\.audio_encoder\.(\d+)\.conv_block\.([01])\.(.+)$", k)
    if m:
        idx, part, rest = m.groups()
        return f"translation.audio_encoder.{idx}.{'conv' if part == '0' else 'bn'}.{rest}"
    for pub, ours in RENDERER_SIMPLE.items():
        if k.startswith(pub):
            return ours + k[len(pub):]
    return None


def convert(public_sd, model, mapper, drops):
    """Returns (state dict for `model`, report). Raises with the full list when anything does not map or fit."""
    public_sd = strip_wrappers(public_sd)
    target = model.state_dict()
    out, problems, dropped = {}, [], []
    for k, v in public_sd.items():
        if any(re.match(d, k) for d in drops):
            dropped.append(k)
            continue
        ours = mapper(k)
        if ours is None:
            problems.append(f"no mapping for public parameter '{k}'")
            continue
        if ours not in target:
            problems.append(f"'{k}' maps to '{ours}', which the project's network does not have")
            continue
        if tuple(target[ours].shape) != tuple(v.shape):
            problems.append(f"'{k}' -> '{ours}': shape {tuple(v.shape)} vs ours {tuple(target[ours].shape)}")
            continue
        out[ours] = v.clone()
    zero_filled = []
    for k, v in target.items():
        if k in out:
            continue
        # Public convs without bias (translation.conv1/conv2): a zero bias is the same function.
        if k.endswith(".conv.bias") and k.startswith("translation.enc"):
            out[k] = torch.zeros_like(v)
            zero_filled.append(k)
        else:
            problems.append(f"project parameter '{k}' has no source in the checkpoint")
    if problems:
        raise ValueError("IP_LAP conversion failed:\n  - " + "\n  - ".join(problems))
    return out, {"mapped": len(out) - len(zero_filled), "zeroFilled": zero_filled, "dropped": len(dropped)}


def convert_generator(public_sd):
    return convert(public_sd, LandmarkGenerator(full_config()), map_generator_name, GENERATOR_DROP)


def convert_renderer(public_sd):
    return convert(public_sd, Renderer(full_config()), map_renderer_name, RENDERER_DROP)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", help="public landmark generator checkpoint (.pth)")
    ap.add_argument("--renderer", help="public renderer checkpoint (.pth)")
    ap.add_argument("--out", required=True, help="project checkpoint to write (training/export.py reads it)")
    a = ap.parse_args()
    if not a.generator and not a.renderer:
        ap.error("give --generator and/or --renderer")
    ck = {"config": full_config().to_dict(), "source": "converted from the public IP_LAP release (user-supplied)",
          "training": "IP_LAP authors (LRS2); see their licence", "data": "LRS2 (per the IP_LAP paper)",
          "metrics": None, "pointOrder": "iplap"}
    if a.generator:
        sd, rep = convert_generator(torch.load(a.generator, map_location="cpu"))
        ck["generator"] = sd
        print(f"[convert] generator: {rep}")
    if a.renderer:
        sd, rep = convert_renderer(torch.load(a.renderer, map_location="cpu"))
        ck["renderer"] = sd
        print(f"[convert] renderer: {rep}")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    torch.save(ck, a.out)
    print(f"[convert] wrote {a.out}")


if __name__ == "__main__":
    main()
