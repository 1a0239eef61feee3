"""Shared helpers for DL Roadmap / 深度学习路线.

Chapters show each idea inline first, then call the helper written here once. Modules by concern:
`lessons.runtime` (seeding, devices), `lessons.figures` (saving figures for the site), `lessons.plot`
(learning curves and other plots), `lessons.checks` (argument checks), and the modules the chapters add
(data sets, transforms, training loops and recipes, models, text).
"""

from lessons.figures import save_figure
from lessons.runtime import get_device, seed_everything

__all__ = ["get_device", "save_figure", "seed_everything"]
__version__ = "0.1.0"
