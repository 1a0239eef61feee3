r"""Denoising diffusion (DDPM, Ho et al., 2020) and its deterministic sampler DDIM (Song et al., 2021).

The forward process adds Gaussian noise in ``T`` small steps, $q(x_t \mid x_{t-1}) =
\mathcal N(\sqrt{1-\beta_t}\,x_{t-1}, \beta_t I)$, which composes to the closed form
$q(x_t \mid x_0) = \mathcal N(\sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t) I)$ with
$\bar\alpha_t = \prod_{s \le t} (1 - \beta_s)$. A network $\varepsilon_\theta(x_t, t)$ learns to
predict the noise; sampling runs the chain backwards through the Gaussian posterior
$q(x_{t-1} \mid x_t, x_0)$, with $x_0$ estimated from the predicted noise.

Steps are numbered ``0 .. T - 1`` as in ``diffusers`` (the paper's ``t = 1 .. T``); every formula here
equals ``diffusers``' `DDPMScheduler` and `DDIMScheduler` with their default options
(``clip_sample=True``, ``variance_type="fixed_small"``, ``set_alpha_to_one=True``,
``timestep_spacing="leading"``), which the unit tests check.

Examples:
    >>> s = DiffusionSchedule(1000)
    >>> round(float(s.alphas_cumprod[-1]), 6)  # almost pure noise at the last step
    4e-05
    >>> x0 = torch.zeros(2, 1, 4, 4)
    >>> s.q_sample(x0, torch.tensor([0, 999]), torch.ones(2, 1, 4, 4))[:, 0, 0, 0]
    tensor([0.0100, 1.0000])
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from lessons.checks import check_callable, check_choice, check_float, check_int, check_tensor
from lessons.models.unet import UNet

__all__ = [
    "DiffusionSchedule",
    "TrainedDDPM",
    "diffusion_loss",
    "guided_noise",
    "make_betas",
    "resize_digits",
    "sample",
    "trained_ddpm",
]

Denoiser = Callable[[Tensor, Tensor, Tensor | None], Tensor]  # eps_theta(x_t, t, y)


def make_betas(
    num_steps: int,
    kind: Literal["linear", "cosine"] = "linear",
    *,
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    max_beta: float = 0.999,
) -> Tensor:
    r"""The noise schedule $\beta_0 .. \beta_{T-1}$, float32 ``(num_steps,)``.

    ``"linear"``: evenly spaced from `beta_start` to `beta_end` (DDPM's 1e-4 to 0.02 for ``T = 1000``).
    ``"cosine"``: the betas that make $\bar\alpha$ follow
    $f(s) = \cos^2\!\big(\tfrac{s + 0.008}{1.008}\tfrac{\pi}{2}\big)$ (Nichol & Dhariwal, 2021),
    $\beta_t = \min(1 - f(\tfrac{t+1}{T}) / f(\tfrac{t}{T}), \text{max\_beta})$; ``diffusers`` calls
    it ``"squaredcos_cap_v2"``.

    Raises:
        TypeError, ValueError: a bad `num_steps`, `kind` or bound.
    """
    check_int("num_steps", num_steps, ge=1)
    check_choice("kind", kind, ("linear", "cosine"))
    if kind == "linear":
        lo = check_float("beta_start", beta_start, gt=0, lt=1)
        hi = check_float("beta_end", beta_end, gt=0, lt=1)
        return torch.linspace(lo, hi, num_steps, dtype=torch.float32)
    check_float("max_beta", max_beta, gt=0, le=1)

    def f(s: float) -> float:
        return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - f((t + 1) / num_steps) / f(t / num_steps), max_beta) for t in range(num_steps)]
    return torch.tensor(betas, dtype=torch.float32)


def _bcast(v: Tensor, x: Tensor) -> Tensor:
    """Per-example coefficients ``(N,)`` reshaped to broadcast over ``x (N, ...)``."""
    return v.reshape(-1, *([1] * (x.ndim - 1)))


class DiffusionSchedule:
    r"""The quantities of a DDPM noise schedule, and the forward and reverse steps built from them.

    Args:
        num_steps: ``T``, the number of noising steps (steps ``0 .. T - 1``).
        kind: ``"linear"`` or ``"cosine"``, see `make_betas`.
        beta_start: first beta of the linear schedule.
        beta_end: last beta of the linear schedule.

    Attributes:
        betas: $\beta_t$, float32 ``(T,)``.
        alphas: $\alpha_t = 1 - \beta_t$.
        alphas_cumprod: $\bar\alpha_t = \prod_{s \le t} \alpha_s$.
        posterior_variance: $\tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\beta_t$,
            the variance of $q(x_{t-1} \mid x_t, x_0)$ (0 at ``t = 0``).
    """

    def __init__(
        self,
        num_steps: int = 1000,
        kind: Literal["linear", "cosine"] = "linear",
        *,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
    ) -> None:
        self.num_steps = num_steps
        self.betas = make_betas(num_steps, kind, beta_start=beta_start, beta_end=beta_end)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        prev = torch.cat([torch.ones(1), self.alphas_cumprod[:-1]])
        self.posterior_variance = (1 - prev) / (1 - self.alphas_cumprod) * self.betas

    def __repr__(self) -> str:
        return f"DiffusionSchedule(num_steps={self.num_steps})"

    def _abar(self, t: int) -> Tensor:
        """$\\bar\\alpha_t$, with $\\bar\\alpha_{-1} = 1$ (the clean image)."""
        return self.alphas_cumprod[t] if t >= 0 else torch.tensor(1.0)

    def _check_t(self, name: str, t: object, low: int = 0) -> int:
        return check_int(name, t, ge=low, lt=self.num_steps)

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        r"""Jump straight to step `t`: $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$.

        Args:
            x0: clean data ``(N, ...)``.
            t: ``(N,)`` integer steps in ``[0, T)``, one per example.
            noise: $\varepsilon$, same shape as `x0`.

        Returns:
            $x_t$, same shape as `x0`.
        """
        check_tensor("x0", x0)
        check_tensor("t", t)
        check_tensor("noise", noise)
        if noise.shape != x0.shape:
            raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
        if t.shape != (len(x0),) or t.is_floating_point():
            raise ValueError(f"t must be {len(x0)} integer steps, got shape {tuple(t.shape)} dtype {t.dtype}")
        if len(t) and (int(t.min()) < 0 or int(t.max()) >= self.num_steps):
            raise ValueError(f"t must lie in [0, {self.num_steps}), got [{int(t.min())}, {int(t.max())}]")
        abar = _bcast(self.alphas_cumprod[t], x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def predict_x0(self, xt: Tensor, t: int, eps: Tensor) -> Tensor:
        r"""Invert the closed form:
        $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon) / \sqrt{\bar\alpha_t}$."""
        abar = self._abar(self._check_t("t", t))
        return (xt - (1 - abar).sqrt() * eps) / abar.sqrt()

    def posterior(self, x0: Tensor, xt: Tensor, t: int, t_prev: int | None = None) -> tuple[Tensor, Tensor]:
        r"""Mean and variance of $q(x_{t'} \mid x_t, x_0)$ for an earlier step $t' < t$.

        With $\bar\alpha' = \bar\alpha_{t'}$ (1 when $t' = -1$), $\alpha = \bar\alpha_t /
        \bar\alpha'$ and $\beta = 1 - \alpha$ (the one-step $\beta_t$ when $t' = t - 1$):

        $$\tilde\mu = \frac{\sqrt{\bar\alpha'}\,\beta}{1-\bar\alpha_t} x_0
        + \frac{\sqrt{\alpha}\,(1-\bar\alpha')}{1-\bar\alpha_t} x_t, \qquad
        \tilde\beta = \frac{1-\bar\alpha'}{1-\bar\alpha_t}\,\beta .$$

        Args:
            x0: ``(N, ...)`` clean images (or their estimate).
            xt: ``(N, ...)`` the images at step `t`, same shape.
            t: the current step in ``[0, T)``.
            t_prev: the step to go to, in ``[-1, t)``; default ``t - 1``.

        Returns:
            ``(mean, variance)``: the mean has the shape of `xt`; the variance is a 0-d tensor.
        """
        t = self._check_t("t", t)
        t_prev = t - 1 if t_prev is None else check_int("t_prev", t_prev, ge=-1, lt=t)
        abar_t, abar_prev = self._abar(t), self._abar(t_prev)
        alpha = abar_t / abar_prev
        beta = 1 - alpha
        mean = (abar_prev.sqrt() * beta * x0 + alpha.sqrt() * (1 - abar_prev) * xt) / (1 - abar_t)
        return mean, ((1 - abar_prev) / (1 - abar_t) * beta).clamp_min(1e-20)

    def ddpm_step(
        self,
        eps: Tensor,
        t: int,
        xt: Tensor,
        *,
        t_prev: int | None = None,
        generator: torch.Generator | None = None,
        clip: bool = True,
    ) -> Tensor:
        r"""One ancestral step $x_t \to x_{t'}$: estimate $\hat x_0$ from the predicted noise
        (clipped to [-1, 1] with `clip`), then draw from $q(x_{t'} \mid x_t, \hat x_0)$; no noise is
        added at the last step (``t = 0``). Equal to ``DDPMScheduler.step(eps, t, xt, generator=g)``.

        Args:
            eps: the network's noise prediction, shape of `xt`.
            t: the current step; `t_prev` the next one (default ``t - 1``).
            xt: the current sample ``(N, ...)``.
            generator: draws the added noise with ``torch.randn(xt.shape, generator=generator)``.
            clip: clip $\hat x_0$ to [-1, 1] (data scaled to that range).

        Returns:
            $x_{t'}$, shape of `xt`.
        """
        x0 = self.predict_x0(xt, t, eps)
        if clip:
            x0 = x0.clamp(-1, 1)
        mean, var = self.posterior(x0, xt, t, t_prev)
        if t == 0:
            return mean
        noise = torch.randn(xt.shape, generator=generator, dtype=xt.dtype)
        return mean + var.sqrt() * noise

    def ddim_step(
        self,
        eps: Tensor,
        t: int,
        t_prev: int,
        xt: Tensor,
        *,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        clip: bool = True,
    ) -> Tensor:
        r"""One DDIM step $x_t \to x_{t'}$ (Song et al., 2021, eq. 12):

        $$x_{t'} = \sqrt{\bar\alpha'}\,\hat x_0 + \sqrt{1 - \bar\alpha' - \sigma^2}\,\hat\varepsilon
        + \sigma z, \qquad \sigma = \eta\sqrt{\tilde\beta},$$

        deterministic for ``eta=0``; ``eta=1`` has DDPM's variance. $\bar\alpha' = 1$ at
        ``t_prev=-1``. Equal to ``DDIMScheduler.step(eps, t, xt, eta=eta, generator=g)``.

        Args:
            eps: predicted noise, shape of `xt`; `t`, `t_prev`: the steps (``-1 <= t_prev < t``).
            xt: the current sample; `eta`: the noise level in [0, 1]; `generator`: draws `z`.
            clip: clip $\hat x_0$ to [-1, 1] (the noise estimate itself is not recomputed).

        Returns:
            $x_{t'}$, shape of `xt`.
        """
        t = self._check_t("t", t)
        t_prev = check_int("t_prev", t_prev, ge=-1, lt=t)
        eta = check_float("eta", eta, ge=0, le=1)
        x0 = self.predict_x0(xt, t, eps)
        if clip:
            x0 = x0.clamp(-1, 1)
        abar_t, abar_prev = self._abar(t), self._abar(t_prev)
        sigma = eta * ((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)).sqrt()
        x = abar_prev.sqrt() * x0 + (1 - abar_prev - sigma**2).sqrt() * eps
        if eta > 0:
            x = x + sigma * torch.randn(xt.shape, generator=generator, dtype=xt.dtype)
        return x

    def timesteps(self, steps: int | None = None) -> list[int]:
        """The steps a sampler visits, last first: every step for ``steps=None``, else `steps` of them spaced
        by ``T // steps`` from 0 ("leading" spacing, as ``scheduler.set_timesteps(steps)``)."""
        if steps is None:
            return list(range(self.num_steps - 1, -1, -1))
        check_int("steps", steps, ge=1, le=self.num_steps)
        ratio = self.num_steps // steps
        return [i * ratio for i in range(steps - 1, -1, -1)]


def guided_noise(model: Denoiser, x: Tensor, t: int, y: Tensor | None, guidance: float, null: int) -> Tensor:
    r"""Classifier-free guidance: $\hat\varepsilon = \varepsilon_\theta(x, t, \varnothing)
    + w\,(\varepsilon_\theta(x, t, y) - \varepsilon_\theta(x, t, \varnothing))$.

    ``w = 1`` is the plain conditional model, ``w = 0`` the unconditional one; ``w > 1`` pushes the sample
    towards what distinguishes class `y` (the convention of ``diffusers``' ``guidance_scale``; Ho &
    Salimans write $1 + w$). Both halves run as one batch of ``2N``.

    Args:
        model: ``model(x (N, ...), t (N,), y (N,)) -> (N, ...)``.
        x: ``(N, ...)`` samples at step `t`; y: ``(N,)`` labels, or ``None`` (unconditional).
        guidance: `w`; null: the label that means "no label".

    Returns:
        ``(N, ...)`` noise estimate.
    """
    tt = torch.full((len(x),), t, dtype=torch.long)
    if y is None:
        return model(x, tt, torch.full_like(tt, null))
    if guidance == 1.0:
        return model(x, tt, y)
    both = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([y, torch.full_like(y, null)]))
    cond, uncond = both.chunk(2)
    return uncond + guidance * (cond - uncond)


@torch.no_grad()
def sample(
    model: Denoiser,
    schedule: DiffusionSchedule,
    shape: tuple[int, ...],
    *,
    labels: Tensor | None = None,
    guidance: float = 1.0,
    null_label: int = 10,
    method: Literal["ddpm", "ddim"] = "ddpm",
    steps: int | None = None,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    clip: bool = True,
) -> Tensor:
    """Generate images by running the reverse chain from pure noise.

    Args:
        model: the noise predictor ``model(x, t, y)``, e.g. `lessons.models.unet.UNet`.
        schedule: the schedule it was trained with.
        shape: ``(N, C, H, W)`` of the batch to generate.
        labels: ``(N,)`` requested classes, or ``None`` for unconditional samples.
        guidance: classifier-free guidance scale `w` (see `guided_noise`).
        null_label: the model's "no label" index.
        method: ``"ddpm"`` (ancestral sampling) or ``"ddim"``.
        steps: how many steps to visit (default all ``T``), spaced as in `DiffusionSchedule.timesteps`.
        eta: DDIM's noise level.
        generator: seeds the starting noise and every noise draw.
        clip: clip the estimate of $x_0$ to [-1, 1] at each step.

    Returns:
        ``(N, C, H, W)`` samples, in the data's scale (about [-1, 1]).
    """
    check_callable("model", model)
    check_choice("method", method, ("ddpm", "ddim"))
    check_float("guidance", guidance)
    if labels is not None:
        check_tensor("labels", labels)
        if labels.shape != (shape[0],):
            raise ValueError(f"labels must have shape ({shape[0]},), got {tuple(labels.shape)}")
    ts = schedule.timesteps(steps)
    x = torch.randn(shape, generator=generator)
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        eps = guided_noise(model, x, t, labels, guidance, null_label)
        if method == "ddpm":
            x = schedule.ddpm_step(eps, t, x, t_prev=t_prev, generator=generator, clip=clip)
        else:
            x = schedule.ddim_step(eps, t, t_prev, x, eta=eta, generator=generator, clip=clip)
    return x


def diffusion_loss(
    model: Denoiser,
    schedule: DiffusionSchedule,
    x0: Tensor,
    labels: Tensor | None = None,
    *,
    p_uncond: float = 0.1,
    null_label: int = 10,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""DDPM's simplified loss $\lVert \varepsilon - \varepsilon_\theta(x_t, t, y) \rVert^2$, averaged,
    at a random step per image, with each label replaced by `null_label` with probability `p_uncond` (so one
    network learns the conditional and the unconditional model that guidance combines).

    Args:
        model: the noise predictor; schedule: the noise schedule.
        x0: ``(N, C, H, W)`` clean images scaled to [-1, 1]; labels: ``(N,)`` or ``None``.
        p_uncond: label dropout probability in [0, 1]; generator: draws t, the noise and the dropout.

    Returns:
        a scalar tensor.
    """
    check_tensor("x0", x0)
    check_float("p_uncond", p_uncond, ge=0, le=1)
    n = len(x0)
    t = torch.randint(0, schedule.num_steps, (n,), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    if labels is None:
        labels = torch.full((n,), null_label, dtype=torch.long)
    else:
        drop = torch.rand(n, generator=generator) < p_uncond
        labels = torch.where(drop, torch.full_like(labels, null_label), labels)
    return torch.nn.functional.mse_loss(model(schedule.q_sample(x0, t, noise), t, labels), noise)


def resize_digits(images: Tensor, size: int) -> Tensor:
    """Resize grey images to ``size × size``: bilinear, antialiased when shrinking, clamped to [0, 1].

    The round trip of the diffusion page: 28×28 digits go down to 16×16 for training, and 16×16 samples
    come back up to 28×28 for the metrics of `lessons.metrics`, which expect phase 5's image size.

    Args:
        images: ``(N, C, H, W)`` float images in [0, 1].
        size: the new height and width.

    Returns:
        ``(N, C, size, size)`` float images in [0, 1].

    Raises:
        TypeError, ValueError: `images` is not a float ``(N, C, H, W)`` tensor, or `size` < 1.

    Examples:
        >>> resize_digits(torch.ones(2, 1, 28, 28), 16).shape
        torch.Size([2, 1, 16, 16])
    """
    check_tensor("images", images)
    check_int("size", size, ge=1)
    if images.ndim != 4 or not images.is_floating_point():
        shape = tuple(images.shape)
        raise ValueError(f"images must be a float (N, C, H, W) batch, got {shape}, dtype {images.dtype}")
    shrink = size < images.shape[-1]
    return F.interpolate(images, size=size, mode="bilinear", antialias=shrink).clamp(0, 1)


class TrainedDDPM(NamedTuple):
    """What `trained_ddpm` returns: the noise predictor (eval mode, averaged weights), its schedule, and
    the training loss of each step."""

    model: UNet
    schedule: DiffusionSchedule
    history: list[float]


_RECIPE = {"channels": (12, 24), "emb_dim": 32, "num_steps": 100, "kind": "cosine", "size": 16,
               "batch_size": 64, "lr": 5e-3, "p_uncond": 0.1, "ema": 0.98}  # fmt: skip


@functools.lru_cache(maxsize=4)
def _train_ddpm(steps: int, seed: int) -> tuple[dict[str, Tensor], tuple[float, ...]]:
    from lessons.datasets.images import load_mnist

    r = _RECIPE
    X_train, _, y_train, _ = load_mnist(test_size=1000, seed=0)  # the digit CNN's split: test digits stay out
    x0 = resize_digits(X_train, r["size"]) * 2 - 1  # [-1, 1], the range ddpm_step clips to
    schedule = DiffusionSchedule(r["num_steps"], r["kind"])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = UNet(r["channels"], num_steps=r["num_steps"], emb_dim=r["emb_dim"])
    ema = copy.deepcopy(net)
    opt = torch.optim.AdamW(net.parameters(), lr=r["lr"])
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(x0), (r["batch_size"],), generator=g)
        loss = diffusion_loss(net, schedule, x0[idx], y_train[idx], p_uncond=r["p_uncond"], generator=g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), net.parameters(), strict=True):
                p_ema.lerp_(p, 1 - r["ema"])  # exponential moving average of the weights
        losses.append(loss.item())
    return {k: v.detach().clone() for k, v in ema.state_dict().items()}, tuple(losses)


def trained_ddpm(*, steps: int = 300, seed: int = 0) -> TrainedDDPM:
    """A class-conditional `UNet` trained as a DDPM on 4,000 MNIST digits shrunk to 16×16.

    The 4,000 training digits of ``load_mnist(test_size=1000, seed=0)`` (the split of
    `lessons.recipes.trained_digit_cnn`, whose 1,000 test digits stay unseen), shrunk with
    `resize_digits` and scaled to [-1, 1]; ``UNet((12, 24), num_steps=100, emb_dim=32)`` (49,937
    parameters) with a cosine `DiffusionSchedule` of ``T = 100`` steps; `diffusion_loss` with label dropout
    ``p_uncond=0.1`` (the null label 10), batches of 64, AdamW with ``lr=5e-3``; the returned weights are an
    exponential moving average (decay 0.98) of the trained ones. Trained once per process for each
    argument combination (the default 300 steps take about 20 s of CPU) and cached; later calls return a
    fresh copy.

    Args:
        steps: optimiser steps.
        seed: seeds the weights, the batches, the steps ``t``, the noise and the label dropout.

    Returns:
        `TrainedDDPM` ``(model, schedule, history)``: ``sample(model, schedule, (N, 1, 16, 16), ...)``
        gives images in about [-1, 1]; ``history`` holds the loss of each step.

    Raises:
        TypeError, ValueError: a bad `steps` or `seed`.
    """
    check_int("steps", steps, ge=1)
    check_int("seed", seed, ge=0)
    state, losses = _train_ddpm(steps, seed)
    r = _RECIPE
    model = UNet(r["channels"], num_steps=r["num_steps"], emb_dim=r["emb_dim"])
    model.load_state_dict(state)
    return TrainedDDPM(model.eval(), DiffusionSchedule(r["num_steps"], r["kind"]), list(losses))
