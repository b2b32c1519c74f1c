"""IP_LAP-shaped networks of lipsync-sfu (written for this project; layout follows the public IP_LAP description).

Two stages: `LandmarkGenerator` (audio + pose + reference landmarks -> lip and jaw landmarks) and `Renderer`
(masked face + target sketches + references + audio -> face). Widths come from `config.NetConfig` (`full` is the
published size, `tiny` a narrow variant for CI smoke runs).
"""
from .config import NetConfig, full_config, tiny_config, config_by_name
from .landmark_generator import LandmarkGenerator
from .renderer import Renderer, RefEncoder, FrameRenderer

__all__ = [
    "NetConfig",
    "full_config",
    "tiny_config",
    "config_by_name",
    "LandmarkGenerator",
    "Renderer",
    "RefEncoder",
    "FrameRenderer",
]
