"""Building blocks shared by both stages. Written for ONNX export: only ops that torch 1.13 exports at opset 17."""
import math

import torch
from torch import nn
from torch.nn import functional as F


class ConvBN(nn.Module):
    """Conv + BatchNorm (+ residual) + activation, 1-D or 2-D."""

    def __init__(self, dims, cin, cout, kernel, stride, padding, residual=False, act="relu"):
        super().__init__()
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        bn = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        self.conv = conv(cin, cout, kernel, stride, padding)
        self.bn = bn(cout)
        self.residual = residual
        self.act = nn.Tanh() if act == "tanh" else nn.ReLU() if act == "relu" else nn.Identity()

    def forward(self, x):
        out = self.bn(self.conv(x))
        if self.residual:
            out = out + x
        return self.act(out)


def _w(c, div):
    return max(c // div, 2)


def audio_encoder(div=1, last_act="tanh"):
    """13 conv layers over a 1 x 80 x 16 mel chunk -> (512/div) x 1 x 1 (the Wav2Lip-style audio encoder)."""
    spec = [
        (1, 32, 1, 1, False),
        (32, 32, 1, 1, True),
        (32, 32, 1, 1, True),
        (32, 64, (3, 1), 1, False),
        (64, 64, 1, 1, True),
        (64, 64, 1, 1, True),
        (64, 128, 3, 1, False),
        (128, 128, 1, 1, True),
        (128, 128, 1, 1, True),
        (128, 256, (3, 2), 1, False),
        (256, 256, 1, 1, True),
    ]
    layers = []
    for cin, cout, stride, pad, res in spec:
        layers.append(ConvBN(2, 1 if cin == 1 else _w(cin, div), _w(cout, div), 3, stride, pad, residual=res))
    layers.append(ConvBN(2, _w(256, div), _w(512, div), 3, 1, 0))
    layers.append(ConvBN(2, _w(512, div), _w(512, div), 1, 1, 0, act=last_act))
    return nn.Sequential(*layers)


def point_encoder(points, div=1):
    """Conv1d stack over (2, points) -> (512/div) x 1. `points` is 74 (pose) or 131 (reference)."""
    if points == 74:
        # 74 -> 74 -> 37 -> 19 -> 10 -> 5 -> 3 -> 1
        stages = [(4, 8, 1, 2), (8, 16, 2, 2), (16, 32, 2, 2), (32, 64, 2, 2), (64, 128, 2, 2), (128, 256, 2, 2)]
        last_res = True
    elif points == 131:
        # 131 -> 66 -> 33 -> 17 -> 9 -> 5 -> 3 -> 1
        stages = [(4, 8, 2, 2), (8, 16, 2, 2), (16, 32, 2, 2), (32, 64, 2, 2), (64, 128, 2, 2), (128, 256, 2, 1)]
        last_res = False
    else:
        raise ValueError(points)
    layers = [ConvBN(1, 2, _w(4, div), 3, 1, 1)]
    for cin, cout, stride, nres in stages:
        layers.append(ConvBN(1, _w(cin, div), _w(cout, div), 3, stride, 1))
        for _ in range(nres):
            layers.append(ConvBN(1, _w(cout, div), _w(cout, div), 3, 1, 1, residual=True))
    layers.append(ConvBN(1, _w(256, div), _w(512, div), 3, 1, 0))
    layers.append(ConvBN(1, _w(512, div), _w(512, div), 1, 1, 0, residual=last_res, act="tanh"))
    return nn.Sequential(*layers)


def sinusoid_table(length, d_model):
    pe = torch.zeros(length, d_model)
    pos = torch.arange(0, length).float().unsqueeze(1)
    div = (torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model)).exp()
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class SelfAttention(nn.Module):
    """Multi-head self-attention with PyTorch's parameter layout (in_proj_weight = [Wq; Wk; Wv]) and plain ops."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x):  # x: (B, L, D)
        b, l, d = x.shape
        h = self.n_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, L, 3D)
        qkv = qkv.reshape(b, l, 3, h, d // h).permute(2, 0, 3, 1, 4)  # (3, B, H, L, Dh)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d // h), dim=-1)
        out = torch.matmul(att, v).permute(0, 2, 1, 3).reshape(b, l, d)
        return self.out_proj(out)


class EncoderLayer(nn.Module):
    """Post-norm transformer encoder layer (ReLU feed-forward), as torch.nn.TransformerEncoderLayer's defaults."""

    def __init__(self, d_model, n_heads, d_ff, dropout):
        super().__init__()
        self.self_attn = SelfAttention(d_model, n_heads)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        x = self.norm1(x + self.drop(self.self_attn(x)))
        return self.norm2(x + self.drop(self.linear2(self.drop(F.relu(self.linear1(x))))))


def instance_norm(x, eps=1e-5):
    """Per-sample, per-channel normalisation over H x W (F.instance_norm without affine or running stats).

    Written out because torch 1.13 refuses to export InstanceNormalization when the channel count is not statically
    known after a reshape with a dynamic batch (B*N references)."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dim=(2, 3), keepdim=True)
    return centred / torch.sqrt(var + eps)


class AdaINLayer(nn.Module):
    """Instance norm whose scale and shift come from a vector (the audio embedding) through a small MLP."""

    def __init__(self, channels, mod_features, hidden):
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Linear(mod_features, hidden), nn.ReLU())
        self.mlp_gamma = nn.Linear(hidden, channels)
        self.mlp_beta = nn.Linear(hidden, channels)

    def forward(self, x, mod):  # x (B, C, H, W), mod (B, F)
        a = self.mlp_shared(mod)
        gamma = self.mlp_gamma(a).unsqueeze(-1).unsqueeze(-1)
        beta = self.mlp_beta(a).unsqueeze(-1).unsqueeze(-1)
        return instance_norm(x) * (1 + gamma) + beta


class AdaINBlock(nn.Module):
    def __init__(self, channels, mod_features, hidden):
        super().__init__()
        self.norm1 = AdaINLayer(channels, mod_features, hidden)
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.norm2 = AdaINLayer(channels, mod_features, hidden)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x, mod):
        x = self.conv1(F.leaky_relu(self.norm1(x, mod), 0.2))
        return self.conv2(F.leaky_relu(self.norm2(x, mod), 0.2))


class SpadeLayer(nn.Module):
    """Spatially-adaptive normalisation: instance norm, then per-pixel scale and shift predicted from a map.

    `grouped`: the input holds N consecutive samples per modulation sample (batch B*N vs B). The scale and shift depend
    on the modulation only, so they are computed once per modulation sample and broadcast over its N inputs: the
    alignment module modulates N references with one set of target sketches (N stays a dynamic ONNX dimension).
    """

    def __init__(self, channels, mod_channels, hidden):
        super().__init__()
        self.channels = channels
        self.shared = nn.Conv2d(mod_channels, hidden, 3, 1, 1)
        self.gamma = nn.Conv2d(hidden, channels, 3, 1, 1)
        self.beta = nn.Conv2d(hidden, channels, 3, 1, 1)

    def forward(self, x, mod, grouped=False):
        h = self.shared(mod)
        gamma, beta = self.gamma(h), self.beta(h)
        norm = instance_norm(x)
        if not grouped:
            return norm * (1 + gamma) + beta
        # Static channel count: ONNX's InstanceNormalization export needs it known.
        c, hh, ww = self.channels, norm.shape[2], norm.shape[3]
        norm = norm.reshape(gamma.shape[0], -1, c, hh, ww)
        out = norm * (1 + gamma.unsqueeze(1)) + beta.unsqueeze(1)
        return out.reshape(-1, c, hh, ww)


class SpadeBlock(nn.Module):
    def __init__(self, channels, mod_channels, hidden):
        super().__init__()
        self.norm1 = SpadeLayer(channels, mod_channels, hidden)
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.norm2 = SpadeLayer(channels, mod_channels, hidden)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x, mod, grouped=False):
        x = self.conv1(F.leaky_relu(self.norm1(x, mod, grouped), 0.2))
        return self.conv2(F.leaky_relu(self.norm2(x, mod, grouped), 0.2))
