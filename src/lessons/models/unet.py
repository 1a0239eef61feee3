"""A small U-Net that predicts the noise in a diffusion model, conditioned on the step and on a class label.

The network of DDPM (Ho et al., 2020) cut down to run on a CPU: residual blocks with GroupNorm and SiLU, the
step ``t`` fed in as a sinusoidal embedding (the Transformer's positional encoding, indexed by ``t``) and
added to every block, and a learned class embedding added to it for classifier-free guidance, where the
extra index ``num_classes`` stands for "no label" (Ho & Salimans, 2022). The encoder halves the resolution
at each level, the decoder doubles it back and concatenates the encoder's map of the same size (the skip
connections of Ronneberger et al., 2015). There is no attention: at 16×16 the receptive field of the
bottleneck already covers the image.

Examples:
    >>> net = UNet(channels=(16, 32), num_steps=100)
    >>> x, t, y = torch.randn(2, 1, 16, 16), torch.tensor([0, 99]), torch.tensor([3, 10])
    >>> net(x, t, y).shape
    torch.Size([2, 1, 16, 16])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lessons.checks import check_int, check_sizes, check_tensor
from lessons.models.transformer import sinusoidal_encoding

__all__ = ["ResBlock", "UNet"]


def _groups(channels: int) -> int:
    """Groups of a GroupNorm: 8 where the channels allow it, else the largest divisor below 8."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv3×3, plus the projected embedding, then GroupNorm → SiLU → conv3×3, plus
    the input (through a 1×1 convolution when the channels change).

    Shapes: ``forward(x (N, c_in, H, W), emb (N, emb_dim)) -> (N, c_out, H, W)``.
    """

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(_groups(c_in), c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(_groups(c_out), c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.act = nn.SiLU()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]  # the step (and label) shift every channel
        h = self.conv2(self.act(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """Noise predictor ``ε_θ(x_t, t, y)`` for images of side divisible by ``2 ** (len(channels) - 1)``.

    Args:
        channels: channels of each resolution level, e.g. ``(32, 64)``: one `ResBlock` per level on the
            way down and one on the way up; the resolution halves between levels.
        in_channels: image channels (1 for grey digits).
        num_steps: number of diffusion steps ``T``; ``t`` takes values ``0 .. T - 1``.
        num_classes: number of class labels, or 0 for an unconditional model. Label ``num_classes``
            means "no label" (the one used to train and sample the unconditional half of classifier-free
            guidance).
        emb_dim: width of the step (and class) embedding.

    Shapes:
        ``forward(x (N, in_channels, H, W), t (N,) int, y (N,) int or None) -> (N, in_channels, H, W)``;
        ``y=None`` means "no label" for every image.
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64),
        *,
        in_channels: int = 1,
        num_steps: int = 1000,
        num_classes: int = 10,
        emb_dim: int = 64,
    ) -> None:
        super().__init__()
        channels = check_sizes("channels", channels, what="level")
        self.in_channels = check_int("in_channels", in_channels, ge=1)
        self.num_steps = check_int("num_steps", num_steps, ge=1)
        self.num_classes = check_int("num_classes", num_classes, ge=0)
        check_int("emb_dim", emb_dim, ge=2)
        if emb_dim % 2:
            raise ValueError(f"emb_dim must be even (sine/cosine pairs), got {emb_dim}")
        self.factor = 2 ** (len(channels) - 1)
        self.register_buffer("t_table", sinusoidal_encoding(num_steps, emb_dim), persistent=False)
        self.t_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.conv_in = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        c = channels[0]
        for c_out in channels:
            self.down.append(ResBlock(c, c_out, emb_dim))
            c = c_out
        self.pool = nn.AvgPool2d(2)
        self.mid = ResBlock(c, c, emb_dim)
        self.up = nn.ModuleList()
        for c_skip in reversed(channels):
            self.up.append(ResBlock(c + c_skip, c_skip, emb_dim))
            c = c_skip
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.norm_out = nn.GroupNorm(_groups(c), c)
        self.conv_out = nn.Conv2d(c, in_channels, 3, padding=1)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        check_tensor("x", x)
        bad_size = x.ndim != 4 or x.shape[2] % self.factor or x.shape[3] % self.factor
        if bad_size or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have shape (N, {self.in_channels}, H, W) with H and W divisible by {self.factor}, "
                f"got {tuple(x.shape)}"
            )
        t = self._check_index("t", t, len(x), self.num_steps)
        emb = self.t_mlp(self.t_table[t])
        if self.label_emb is not None:
            null = torch.full((len(x),), self.num_classes, dtype=torch.long, device=x.device)
            y = null if y is None else self._check_index("y", y, len(x), self.num_classes + 1)
            emb = emb + self.label_emb(y)
        elif y is not None:
            raise ValueError("this UNet has num_classes=0: pass y=None")
        h = self.conv_in(x)
        skips = []
        for i, block in enumerate(self.down):
            if i:
                h = self.pool(h)
            h = block(h, emb)
            skips.append(h)
        h = self.mid(h, emb)
        for i, block in enumerate(self.up):
            if i:
                h = self.upsample(h)
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.conv_out(torch.nn.functional.silu(self.norm_out(h)))

    @staticmethod
    def _check_index(name: str, v: Tensor, n: int, high: int) -> Tensor:
        check_tensor(name, v)
        if v.shape != (n,) or v.is_floating_point():
            raise ValueError(f"{name} must be {n} integers, got shape {tuple(v.shape)} dtype {v.dtype}")
        if n and (int(v.min()) < 0 or int(v.max()) >= high):
            lo, hi = int(v.min()), int(v.max())
            raise ValueError(f"{name} must lie in [0, {high}), got values in [{lo}, {hi}]")
        return v.long()
