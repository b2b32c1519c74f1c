"""Stage 2: landmarks -> face (IP_LAP-shaped renderer: alignment module + translation module), 128 x 128.

Split in two so that what depends only on the references is computed once per reference set:
- `RefEncoder`: per reference image + sketch -> features at 128^2 (h1) and 64^2 (h2). In the public code these first
  convolutions run again for every frame although they never see the target.
- `FrameRenderer`: per frame. Alignment: the references' h2, SPADE-modulated by the 5 target sketches, predict a
  motion field (2 ch) and a weight (1 ch) per reference; reference image, h1 and h2 are warped and averaged with the
  weights. Translation: the masked face + target sketches are encoded and decoded through SPADE (warped features) and
  AdaIN (audio) blocks to RGB in 0..1.
`Renderer` chains both (the monolithic contract).

Images are RGB in 0..1, sketches 0..1 (3 identical channels per sketch, as in the public code), N references.
"""
import torch
from torch import nn
from torch.nn import functional as F

from .config import NetConfig
from .layers import AdaINBlock, ConvBN, SpadeBlock, audio_encoder

SIZE = 128
SKETCHES = 5  # 2k+1, k = 2


def make_grid(h, w, like):
    ys = torch.linspace(-1.0, 1.0, h, dtype=like.dtype)
    xs = torch.linspace(-1.0, 1.0, w, dtype=like.dtype)
    gy = ys.view(h, 1).expand(h, w)
    gx = xs.view(1, w).expand(h, w)
    return torch.stack([gx, gy], dim=-1).unsqueeze(0)  # (1, H, W, 2)


def flow_to_grid(flow):
    """Motion field in pixels (B, 2, H, W) -> sampling grid in -1..1 (B, H, W, 2)."""
    h, w = flow.shape[2], flow.shape[3]
    scale = torch.tensor([2.0 / (w - 1), 2.0 / (h - 1)], dtype=flow.dtype).view(1, 2, 1, 1)
    return make_grid(h, w, flow) + (flow * scale).permute(0, 2, 3, 1)


def warp(src, grid):
    if grid.shape[1] != src.shape[2]:
        g = F.interpolate(grid.permute(0, 3, 1, 2), size=(src.shape[2], src.shape[3]), mode="bilinear")
        grid = g.permute(0, 2, 3, 1)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class RefEncoder(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.c1, self.c2 = cfg.r_h1, cfg.r_h2
        self.conv1 = nn.Conv2d(6, cfg.r_h1, 7, 1, 3)
        self.bn1 = nn.BatchNorm2d(cfg.r_h1)
        self.conv2 = nn.Conv2d(cfg.r_h1, cfg.r_h2, 3, 2, 1)
        self.bn2 = nn.BatchNorm2d(cfg.r_h2)

    def forward(self, ref_images, ref_sketches):
        """(B,N,3,128,128) x2 -> ref_feat1 (B,N,h1,128,128), ref_feat2 (B,N,h2,64,64)."""
        n = ref_images.shape[1]
        x = torch.cat([ref_images, ref_sketches], dim=2).reshape(-1, 6, SIZE, SIZE)
        h1 = F.relu(self.bn1(self.conv1(x)))
        h2 = F.relu(self.bn2(self.conv2(h1)))
        return h1.reshape(-1, n, self.c1, SIZE, SIZE), h2.reshape(-1, n, self.c2, SIZE // 2, SIZE // 2)


class Alignment(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        c2, hid, mod = cfg.r_h2, cfg.r_spade_hidden, 3 * SKETCHES
        self.c1, self.c2 = cfg.r_h1, cfg.r_h2
        self.spade1 = SpadeBlock(c2, mod, hid)
        self.spade2 = SpadeBlock(c2, mod, hid)
        self.spade3 = SpadeBlock(c2 // 4, mod, hid)
        self.flow = nn.Conv2d(c2 // 4, 2, 7, 1, 3)
        self.weight = nn.Sequential(nn.Conv2d(c2 // 4, 32, 7, 1, 3), nn.ReLU(), nn.Conv2d(32, 1, 7, 1, 3), nn.Sigmoid())

    def forward(self, ref_images, ref_feat1, ref_feat2, target_sketches):
        b_n = (ref_feat2.shape[0], ref_feat2.shape[1])
        c1, c2 = self.c1, self.c2
        h1 = ref_feat1.reshape(-1, c1, SIZE, SIZE)
        h2 = ref_feat2.reshape(-1, c2, SIZE // 2, SIZE // 2)
        img = ref_images.reshape(-1, 3, SIZE, SIZE)
        sk64 = F.interpolate(target_sketches, size=(SIZE // 2, SIZE // 2), mode="nearest")
        x = self.spade1(h2, sk64, grouped=True)
        x = self.spade2(x, sk64, grouped=True)
        x = F.pixel_shuffle(x, 2)
        x = self.spade3(x, target_sketches, grouped=True)
        grid = flow_to_grid(self.flow(x))
        weight = self.weight(x)  # (B*N, 1, 128, 128)
        w64 = F.interpolate(weight, size=(SIZE // 2, SIZE // 2), mode="nearest")

        def average(v, w, c):
            v = v.reshape(b_n[0], -1, c, v.shape[2], v.shape[3])
            w = w.reshape(b_n[0], -1, 1, w.shape[2], w.shape[3])
            return (v * w).sum(dim=1) / (w.sum(dim=1) + 1e-5)

        warped1 = average(warp(h1, grid), weight, c1)
        warped2 = average(warp(h2, grid), w64, c2)
        warped_img = average(warp(img, grid), weight, 3)
        return warped1, warped2, warped_img


class Translation(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        c1, c2, hid = cfg.r_h1, cfg.r_h2, cfg.r_spade_hidden
        a = max(512 // cfg.r_audio_div, 2)
        self.audio_encoder = audio_encoder(cfg.r_audio_div, last_act="relu")
        self.enc1 = ConvBN(2, 3 + 3 * SKETCHES, c1, 7, 1, 3)
        self.enc2 = ConvBN(2, c1, c2, 3, 2, 1)
        self.spade1 = SpadeBlock(c2, c2, hid)
        self.adain1 = AdaINBlock(c2, a, cfg.r_adain_hidden)
        self.spade2 = SpadeBlock(c2 // 4, c1, hid)
        self.adain2 = AdaINBlock(c2 // 4, a, cfg.r_adain_hidden)
        self.spade3 = SpadeBlock(c2 // 4, 3, hid)
        self.out = nn.Conv2d(c2 // 4, 3, 7, 1, 3, bias=False)

    def forward(self, masked_face, target_sketches, warped1, warped2, warped_img, mel):
        audio = self.audio_encoder(mel).flatten(1)
        x = self.enc2(self.enc1(torch.cat([masked_face, target_sketches], dim=1)))
        x = self.adain1(self.spade1(x, warped2), audio)
        x = F.pixel_shuffle(x, 2)
        x = self.adain2(self.spade2(x, warped1), audio)
        x = self.spade3(x, warped_img)
        return torch.sigmoid(self.out(F.leaky_relu(x, 0.01)))


class FrameRenderer(nn.Module):
    """Per-frame part: takes the reference encodings (from RefEncoder) instead of the reference sketches."""

    def __init__(self, alignment: Alignment, translation: Translation):
        super().__init__()
        self.alignment = alignment
        self.translation = translation

    def forward(self, masked_face, target_sketches, ref_images, ref_feat1, ref_feat2, mel):
        w1, w2, wimg = self.alignment(ref_images, ref_feat1, ref_feat2, target_sketches)
        return self.translation(masked_face, target_sketches, w1, w2, wimg, mel)


class Renderer(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        self.ref_encoder = RefEncoder(cfg)
        self.alignment = Alignment(cfg)
        self.translation = Translation(cfg)

    def frame_renderer(self) -> FrameRenderer:
        return FrameRenderer(self.alignment, self.translation)

    def forward(self, masked_face, target_sketches, ref_images, ref_sketches, mel, return_warped=False):
        """masked_face (B,3,128,128), target_sketches (B,15,128,128), ref_images/ref_sketches (B,N,3,128,128),
        mel (B,1,80,16) -> face (B,3,128,128) in 0..1 (and the warped reference image when return_warped)."""
        f1, f2 = self.ref_encoder(ref_images, ref_sketches)
        w1, w2, wimg = self.alignment(ref_images, f1, f2, target_sketches)
        face = self.translation(masked_face, target_sketches, w1, w2, wimg, mel)
        return (face, wimg) if return_warped else face
