"""Shared helpers for DL Roadmap / 深度学习路线.

Chapters show each idea inline first, then call the helper written here once. Modules by concern:
`lessons.runtime` (seeding, devices), `lessons.plot` (figures for the site), and the modules the
chapters add (data sets, training loops, models, text).
"""

from lessons.plot import save_figure
from lessons.runtime import get_device, seed_everything

__all__ = ["get_device", "save_figure", "seed_everything"]
__version__ = "0.1.0"
