"""Reads the folders written by `lipsync prep` (src/pipeline/lipsync/neural/prep.ts) and samples training items.

Per clip: landmarks.npy [F,131,2] f32 (crop-normalised), faces.npy [F,128,128,3] u8, sketches.npy [F,128,128] u8,
mel.npy [F,80,16] f32, valid.npy [F] u8, meta.json. Items follow the ONNX contracts' layouts exactly.
"""
import json
import os

import numpy as np
import torch

T = 5
NL = 15
K = 2  # sketches t-K..t+K
POSE = slice(0, 74)
LIPS = slice(74, 114)
JAW = slice(114, 131)


class Clip:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path.rstrip("/"))
        with open(os.path.join(path, "meta.json")) as f:
            self.meta = json.load(f)
        self.landmarks = np.load(os.path.join(path, "landmarks.npy"))
        self.faces = np.load(os.path.join(path, "faces.npy"), mmap_mode="r")
        self.sketches = np.load(os.path.join(path, "sketches.npy"), mmap_mode="r")
        self.mel = np.load(os.path.join(path, "mel.npy"))
        self.valid = np.load(os.path.join(path, "valid.npy")).astype(bool)
        self.frames = len(self.valid)

    def runs(self, length, frames=None):
        """Start indices s (within `frames` if given) such that s..s+length-1 are all valid."""
        ok = self.valid.copy()
        if frames is not None:
            mask = np.zeros_like(ok)
            mask[frames] = True
            ok &= mask
        c = np.convolve(ok.astype(np.int32), np.ones(length, np.int32), mode="valid")
        return np.nonzero(c == length)[0]


def load_clips(root):
    dirs = sorted(d for d in os.listdir(root) if os.path.exists(os.path.join(root, d, "meta.json")))
    if not dirs:
        raise SystemExit(f"no prepared clips in {root} (run `lipsync prep --clips DIR --out {root}`)")
    return [Clip(os.path.join(root, d)) for d in dirs]


def split_frames(clip, holdout=0.2):
    """Train on the first 80% of each clip's frames, evaluate on the last 20% (same speakers, unseen frames)."""
    cut = int(clip.frames * (1 - holdout))
    return np.arange(0, cut), np.arange(cut, clip.frames)


class Sampler:
    def __init__(self, clips, part, seed=0, n_refs=3):
        self.rng = np.random.default_rng(seed)
        self.n_refs = n_refs
        self.items_gen, self.items_ren = [], []
        self.clips = clips
        for ci, c in enumerate(clips):
            train, held = split_frames(c)
            frames = train if part == "train" else held
            self.items_gen += [(ci, s) for s in c.runs(T, frames)]
            self.items_ren += [(ci, s + K) for s in c.runs(2 * K + 1, frames)]
        if not self.items_gen:
            raise SystemExit(f"no {part} windows: clips too short or faces not tracked")

    def _refs(self, clip, count):
        idx = np.nonzero(clip.valid)[0]
        return self.rng.choice(idx, size=count, replace=len(idx) < count)

    def generator_batch(self, b):
        mel, pose, ref, lip, jaw = [], [], [], [], []
        for _ in range(b):
            ci, s = self.items_gen[self.rng.integers(len(self.items_gen))]
            c = self.clips[ci]
            w = c.landmarks[s : s + T]  # (T,131,2)
            mel.append(c.mel[s : s + T][:, None])
            pose.append(w[:, POSE].transpose(0, 2, 1))
            ref.append(c.landmarks[self._refs(c, NL)].transpose(0, 2, 1))
            lip.append(w[:, LIPS].transpose(0, 2, 1))
            jaw.append(w[:, JAW].transpose(0, 2, 1))
        f = lambda x: torch.from_numpy(np.ascontiguousarray(np.stack(x), dtype=np.float32))  # noqa: E731
        return f(mel), f(pose), f(ref), f(lip), f(jaw)

    def renderer_batch(self, b):
        face, sk, rimg, rsk, mel = [], [], [], [], []
        for _ in range(b):
            ci, t = self.items_ren[self.rng.integers(len(self.items_ren))]
            c = self.clips[ci]
            face.append(np.asarray(c.faces[t]).transpose(2, 0, 1))
            sk.append(np.repeat(np.asarray(c.sketches[t - K : t + K + 1]), 3, axis=0))
            r = self._refs(c, self.n_refs)
            rimg.append(np.asarray(c.faces[r]).transpose(0, 3, 1, 2))
            rsk.append(np.repeat(np.asarray(c.sketches[r])[:, None], 3, axis=1))
            mel.append(c.mel[t][None])
        u8 = lambda x: torch.from_numpy(np.stack(x).astype(np.float32) / 255.0)  # noqa: E731
        face = u8(face)
        masked = face.clone()
        masked[:, :, 64:, :] = 0
        return masked, u8(sk), u8(rimg), u8(rsk), torch.from_numpy(np.stack(mel).astype(np.float32)), face
