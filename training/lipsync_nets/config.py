"""Width configurations. `full` matches the published IP_LAP sizes; `tiny` keeps every layer but narrows them."""
from dataclasses import dataclass, asdict


@dataclass(frozen=True)
class NetConfig:
    name: str
    # Landmark generator
    d_model: int = 512
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 1024
    dropout: float = 0.1
    # Channel divisor of the conv encoders (audio, pose, reference): 1 = published widths.
    enc_div: int = 1
    # Renderer
    r_h1: int = 32  # first reference/face feature width (128x128)
    r_h2: int = 256  # second width (64x64)
    r_spade_hidden: int = 256  # SPADE modulation hidden width
    r_adain_hidden: int = 128
    r_audio_div: int = 1  # channel divisor of the renderer's audio encoder

    def to_dict(self):
        return asdict(self)


def full_config() -> NetConfig:
    return NetConfig(name="full")


def tiny_config() -> NetConfig:
    return NetConfig(
        name="tiny",
        d_model=64,
        n_layers=2,
        n_heads=2,
        d_ff=128,
        enc_div=8,
        r_h1=8,
        r_h2=32,
        r_spade_hidden=16,
        r_adain_hidden=16,
        r_audio_div=8,
    )


def config_by_name(name: str) -> NetConfig:
    if name == "full":
        return full_config()
    if name == "tiny":
        return tiny_config()
    raise ValueError(f"unknown config {name!r} (full | tiny)")
