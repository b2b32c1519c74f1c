"""Stage 1: audio -> lip (40) and jaw (17) landmarks for a window of T frames (IP_LAP-shaped transformer).

Tokens: Nl reference tokens, T audio tokens, T pose tokens (25 for T=5, Nl=15). Audio and pose tokens get a sinusoidal
time encoding; every token gets a learned modality embedding (1 pose, 2 audio, 3 reference). Audio tokens read out
the lips, pose tokens the jaw.

Point order of the inputs (the project's 131-point subset, src/pipeline/face/geometry/subset131.ts):
pose = subset positions 0..73, lips = 74..113, jaw = 114..130. Coordinates normalised to the face crop (0..1).
"""
import torch
from torch import nn

from .config import NetConfig
from .layers import EncoderLayer, audio_encoder, point_encoder, sinusoid_table

T_FRAMES = 5
N_REFS = 15
POSE_POINTS = 74
REF_POINTS = 131
LIP_POINTS = 40
JAW_POINTS = 17


class LandmarkGenerator(nn.Module):
    def __init__(self, cfg: NetConfig, t_frames=T_FRAMES):
        super().__init__()
        d = cfg.d_model
        enc_out = max(512 // cfg.enc_div, 2)
        if enc_out != d:
            raise ValueError(f"encoder width {enc_out} must equal d_model {d}")
        self.cfg = cfg
        self.t_frames = t_frames
        self.audio_encoder = audio_encoder(cfg.enc_div, last_act="tanh")
        self.pose_encoder = point_encoder(POSE_POINTS, cfg.enc_div)
        self.ref_encoder = point_encoder(REF_POINTS, cfg.enc_div)
        self.embed_norm = nn.LayerNorm(d)
        self.modality = nn.Embedding(4, d, padding_idx=0)
        self.register_buffer("time_encoding", sinusoid_table(t_frames, d), persistent=False)
        self.layers = nn.ModuleList(EncoderLayer(d, cfg.n_heads, cfg.d_ff, cfg.dropout) for _ in range(cfg.n_layers))
        self.lip_head = nn.Linear(d, LIP_POINTS * 2)
        self.jaw_head = nn.Linear(d, JAW_POINTS * 2)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
        # Coordinates live in 0..1 around the crop centre: start the heads there with small weights, not at 0 with
        # unit-scale noise (a short run otherwise spends its first steps just finding the crop centre).
        with torch.no_grad():
            self.lip_head.weight.mul_(0.1)
            self.jaw_head.weight.mul_(0.1)
        nn.init.constant_(self.lip_head.bias, 0.5)
        nn.init.constant_(self.jaw_head.bias, 0.5)

    def forward(self, mel, pose, ref_landmarks):
        """mel (B,T,1,80,16), pose (B,T,2,74), ref_landmarks (B,Nl,2,131) -> lip (B,T,2,40), jaw (B,T,2,17)."""
        t = self.t_frames
        d = self.cfg.d_model
        nl = ref_landmarks.shape[1]
        a = self.audio_encoder(mel.reshape(-1, 1, mel.shape[3], mel.shape[4])).reshape(-1, t, d)
        p = self.pose_encoder(pose.reshape(-1, 2, POSE_POINTS)).reshape(-1, t, d)
        r = self.ref_encoder(ref_landmarks.reshape(-1, 2, REF_POINTS)).reshape(-1, nl, d)
        a, p, r = self.embed_norm(a), self.embed_norm(p), self.embed_norm(r)
        r = r + self.modality.weight[3]
        a = a + self.time_encoding + self.modality.weight[2]
        p = p + self.time_encoding + self.modality.weight[1]
        x = torch.cat([r, a, p], dim=1)
        for layer in self.layers:
            x = layer(x)
        lip = self.lip_head(x[:, nl : nl + t]).reshape(-1, t, LIP_POINTS, 2).permute(0, 1, 3, 2)
        jaw = self.jaw_head(x[:, nl + t :]).reshape(-1, t, JAW_POINTS, 2).permute(0, 1, 3, 2)
        return lip, jaw
