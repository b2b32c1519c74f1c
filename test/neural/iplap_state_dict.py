"""Synthesises state dicts named like the public IP_LAP release's (module layout from its models/*.py, enumerated
here by hand), converts them with training/convert_iplap.py and prints a JSON report. Used by training.test.ts.
Shapes are taken from the project's network at the converter's mapped name only to fill tensors; the names are
enumerated independently, so a mapping that misses or invents a name fails."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "training"))
import convert_iplap as C  # noqa: E402
from lipsync_nets import LandmarkGenerator, Renderer, full_config  # noqa: E402

BN = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]


def conv_bn_layers(prefix, n):
    names = []
    for i in range(n):
        names += [f"{prefix}.{i}.conv_block.0.weight", f"{prefix}.{i}.conv_block.0.bias"]
        names += [f"{prefix}.{i}.conv_block.1.{b}" for b in BN]
    return names


def public_generator_names():
    names = conv_bn_layers("mel_encoder", 13) + conv_bn_layers("ref_encoder", 20) + conv_bn_layers("pose_encoder", 21)
    names += ["fusion_transformer.position_v.pe", "fusion_transformer.position_a.pe", "fusion_transformer.modality.weight"]
    for l in range(4):
        p = f"fusion_transformer.transformer_encoder.layers.{l}"
        names += [f"{p}.self_attn.in_proj_weight", f"{p}.self_attn.in_proj_bias", f"{p}.self_attn.out_proj.weight",
                  f"{p}.self_attn.out_proj.bias"]
        names += [f"{p}.{m}.{w}" for m in ("linear1", "linear2", "norm1", "norm2") for w in ("weight", "bias")]
    names += ["mouse_keypoint_map.weight", "mouse_keypoint_map.bias", "jaw_keypoint_map.weight", "jaw_keypoint_map.bias",
              "Norm.weight", "Norm.bias"]
    return names


def spade(prefix):
    n = [f"{prefix}.conv_1.{w}" for w in ("weight", "bias")] + [f"{prefix}.conv_2.{w}" for w in ("weight", "bias")]
    for s in (1, 2):
        n += [f"{prefix}.spade_layer_{s}.{c}.{w}" for c in ("conv1", "gamma", "beta") for w in ("weight", "bias")]
    return n


def adain(prefix):
    n = [f"{prefix}.conv_1.{w}" for w in ("weight", "bias")] + [f"{prefix}.conv_2.{w}" for w in ("weight", "bias")]
    for s in (1, 2):
        n += [f"{prefix}.adain_layer_{s}.{c}.{w}" for c in ("mlp_shared.0", "mlp_gamma", "mlp_beta")
              for w in ("weight", "bias")]
    return n


def public_renderer_names():
    f = "flow_module"
    n = [f"{f}.conv1.weight", f"{f}.conv1.bias"] + [f"{f}.conv1_bn.{b}" for b in BN]
    n += [f"{f}.conv2.weight", f"{f}.conv2.bias"] + [f"{f}.conv2_bn.{b}" for b in BN]
    n += spade(f"{f}.spade_layer_1") + spade(f"{f}.spade_layer_2") + spade(f"{f}.spade_layer_4")
    n += [f"{f}.conv_4.weight", f"{f}.conv_4.bias", f"{f}.conv_5.0.weight", f"{f}.conv_5.0.bias",
          f"{f}.conv_5.2.weight", f"{f}.conv_5.2.bias"]
    t = "translation"
    n += conv_bn_layers(f"{t}.audio_encoder", 13)
    n += [f"{t}.conv1.weight"] + [f"{t}.conv1_bn.{b}" for b in BN]
    n += [f"{t}.conv2.weight"] + [f"{t}.conv2_bn.{b}" for b in BN]
    n += spade(f"{t}.spade_1") + adain(f"{t}.adain_1") + spade(f"{t}.spade_2") + adain(f"{t}.adain_2")
    n += spade(f"{t}.spade_4") + [f"{t}.conv_last.weight"]
    return n


def synth(names, mapper, model, extra):
    target = model.state_dict()
    sd = {}
    g = torch.Generator().manual_seed(0)
    for k in names:
        ours = mapper(k)
        if ours is None or ours not in target:
            shape = (1, 512, 512) if k.endswith(".pe") else (3,)
        else:
            shape = tuple(target[ours].shape)
        sd["module." + k] = torch.randn(shape, generator=g) if shape else torch.tensor(7)
    for k, shape in extra.items():
        sd["module." + k] = torch.randn(shape, generator=g)
    return {"state_dict": sd}


def main():
    report = {}
    cfg = full_config()
    gen_sd = synth(public_generator_names(), C.map_generator_name, LandmarkGenerator(cfg), {})
    ren_sd = synth(public_renderer_names(), C.map_renderer_name, Renderer(cfg),
                   {"perceptual.model.network.0.weight": (64, 3, 3, 3)})
    for kind, sd, fn, model in (("generator", gen_sd, C.convert_generator, LandmarkGenerator(cfg)),
                                ("renderer", ren_sd, C.convert_renderer, Renderer(cfg))):
        out, rep = fn(sd)
        model.load_state_dict(out)  # strict: every parameter present, shapes right
        src = "module.mouse_keypoint_map.weight" if kind == "generator" else "module.translation.spade_1.spade_layer_2.gamma.weight"
        dst = "lip_head.weight" if kind == "generator" else "translation.spade1.norm2.gamma.weight"
        rep["valueCopied"] = bool(torch.equal(sd["state_dict"][src], out[dst]))
        rep["publicNames"] = len(sd["state_dict"])
        report[kind] = rep
    # A wrong name and a wrong shape must fail with a message naming them.
    bad = dict(gen_sd["state_dict"])
    bad["module.mouse_keypoint_map.weight"] = torch.zeros(81, 512)
    bad["module.fusion_transformer.extra.weight"] = torch.zeros(1)
    try:
        C.convert_generator(bad)
        report["badRejected"] = False
    except ValueError as e:
        report["badRejected"] = True
        report["badMessage"] = str(e)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
