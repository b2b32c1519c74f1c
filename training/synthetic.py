#!/usr/bin/env python3
"""Writes synthetic clips in the `lipsync prep` format: a drawn face whose mouth opening follows a synthetic
"audio" energy visible in the mel chunks. Used by tests when no tracked data is at hand and to prove the training
loop learns something (the lip opening is predictable from the mel here, by construction).

  python3 training/synthetic.py --out DIR [--clips 2] [--frames 120]
"""
import argparse
import json
import os

import numpy as np

EDGES_RING = 16


def template():
    """131 points roughly where a frontal face's subset points sit in a 25 px-margin crop (normalised)."""
    rng = np.random.default_rng(0)
    pts = np.zeros((131, 2), np.float32)
    # pose: eyes, brows, nose, oval: scattered on the upper face
    for i in range(74):
        a = i / 74 * 2 * np.pi
        pts[i] = [0.5 + 0.3 * np.cos(a), 0.35 + 0.15 * np.sin(a)]
    pts[:74] += rng.normal(0, 0.01, (74, 2))
    # lips: two ellipses (outer 20, inner 20) around (0.5, 0.72)
    for i in range(40):
        a = (i % 20) / 20 * 2 * np.pi
        r = 0.12 if i < 20 else 0.08
        pts[74 + i] = [0.5 + r * np.cos(a), 0.72 + 0.4 * r * np.sin(a)]
    # jaw: an arc below
    for i in range(17):
        a = np.pi * (0.1 + 0.8 * i / 16)
        pts[114 + i] = [0.5 + 0.35 * np.cos(a), 0.6 + 0.3 * np.sin(a)]
    return pts


def draw_line(img, p0, p1):
    n = int(max(abs(p1[0] - p0[0]), abs(p1[1] - p0[1]))) + 1
    for t in np.linspace(0, 1, n + 1):
        x, y = int(round(p0[0] + (p1[0] - p0[0]) * t)), int(round(p0[1] + (p1[1] - p0[1]) * t))
        if 0 <= x < img.shape[1] and 0 <= y < img.shape[0]:
            img[y, x] = 255


def make_clip(out, name, frames, seed):
    rng = np.random.default_rng(seed)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    base = template()
    energy = np.clip(np.sin(np.arange(frames) / 3.0 + seed) * 0.5 + 0.5 + rng.normal(0, 0.05, frames), 0, 1)
    lm = np.repeat(base[None], frames, 0)
    lm[:, 74:114, 1] += ((lm[:, 74:114, 1] - 0.72) * 1.5 * energy[:, None]).astype(np.float32)
    lm[:, 114:131, 1] += (0.03 * energy[:, None]).astype(np.float32)
    lm += rng.normal(0, 0.002, lm.shape).astype(np.float32)
    mel = np.full((frames, 80, 16), -4.0, np.float32)
    mel[:, :40, :] = (-4 + 6 * energy[:, None, None]).astype(np.float32)
    faces = np.zeros((frames, 128, 128, 3), np.uint8)
    sketches = np.zeros((frames, 128, 128), np.uint8)
    yy, xx = np.mgrid[0:128, 0:128] / 128.0
    skin = np.array([200, 160, 140], np.uint8)
    edges = [(74 + i, 74 + (i + 1) % 20) for i in range(20)] + [(94 + i, 94 + (i + 1) % 20) for i in range(20)]
    edges += [(114 + i, 115 + i) for i in range(16)] + [(i, (i + 1) % 74) for i in range(74)]
    for f in range(frames):
        faces[f] = skin
        p = lm[f]
        mouth = ((xx - 0.5) / 0.12) ** 2 + ((yy - 0.72) / (0.05 + 0.07 * energy[f])) ** 2 < 1
        faces[f][mouth] = [90, 30, 40]
        for a, b in edges:
            draw_line(sketches[f], p[a] * 128 - 0.5, p[b] * 128 - 0.5)
    np.save(os.path.join(d, "landmarks.npy"), lm.astype(np.float32))
    np.save(os.path.join(d, "faces.npy"), faces)
    np.save(os.path.join(d, "sketches.npy"), sketches)
    np.save(os.path.join(d, "mel.npy"), mel)
    np.save(os.path.join(d, "valid.npy"), np.ones(frames, np.uint8))
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"source": f"synthetic:{seed}", "fps": 25, "frames": frames, "validFrames": frames, "format": 1}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--frames", type=int, default=120)
    a = ap.parse_args()
    for i in range(a.clips):
        make_clip(a.out, f"synthetic_{i}", a.frames, seed=i + 1)
    print(f"[synthetic] {a.clips} clips x {a.frames} frames in {a.out}")


if __name__ == "__main__":
    main()
