"""Generative adversarial networks (phase 8): the losses, a toy data set that shows mode collapse, DCGAN.

* data and the mode-collapse measure: `ring_centres`, `sample_ring`, `mode_coverage` (a mixture of
  Gaussians on a circle, and how many of its modes a generator's samples reach);
* losses on the discriminator's logits: `discriminator_loss`, `generator_loss` (the original minimax
  loss of Goodfellow et al. 2014 and its non-saturating variant), `critic_loss` and `gradient_penalty`
  (WGAN-GP, Gulrajani et al. 2017);
* networks: `EnsembleLinear` and `ensemble_mlp` (several independent small MLPs evaluated in one batched
  matrix product, so that five seeds train in one run), `DCGANGenerator` and `DCGANDiscriminator`
  (Radford et al. 2016, sized for 28×28 digits by default);
* training: `train_gan`, one loop for every loss, and `trained_dcgan`, a DCGAN trained on the 5,000
  MNIST digits and cached, for the pages that score its samples.

Losses take *logits* (before any sigmoid), as `torch.nn.BCEWithLogitsLoss` does, and average over
every element, so the loss of an ensemble of M models is the mean of the M models' losses.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons.checks import check_callable, check_choice, check_float, check_int, check_tensor

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "EnsembleLinear",
    "ModeCoverage",
    "critic_loss",
    "discriminator_loss",
    "ensemble_mlp",
    "generator_loss",
    "gradient_penalty",
    "mode_coverage",
    "ring_centres",
    "sample_ring",
    "train_gan",
    "trained_dcgan",
]

Loss = Literal["non-saturating", "minimax", "wgan-gp"]
LOSSES = ("non-saturating", "minimax", "wgan-gp")


# --- a mixture of Gaussians on a ring ----------------------------------------------------------------------


def ring_centres(modes: int = 8, radius: float = 2.0) -> Tensor:
    """The centres of `modes` Gaussians evenly spaced on a circle, the first one at angle 0.

    Returns:
        ``(modes, 2)`` float32 points.

    Examples:
        >>> ring_centres(4, radius=1.0).round()
        tensor([[ 1.,  0.],
                [ 0.,  1.],
                [-1.,  0.],
                [-0., -1.]])
    """
    check_int("modes", modes, ge=1)
    check_float("radius", radius, gt=0)
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def sample_ring(
    size: int | tuple[int, ...],
    *,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Samples of an equal mixture of `modes` isotropic Gaussians (standard deviation `std`) on a ring.

    Args:
        size: the number of points, or a shape such as ``(n_models, batch)`` for an ensemble.
        modes: how many Gaussians.
        radius: radius of the circle of their centres (`ring_centres`).
        std: standard deviation of each Gaussian, per coordinate.
        generator: a ``torch.Generator`` for reproducible draws.

    Returns:
        ``(*size, 2)`` float32 points.

    Raises:
        TypeError, ValueError: a bad `size`, `modes`, `radius` or `std`.
    """
    shape = (size,) if isinstance(size, int) and not isinstance(size, bool) else tuple(size)
    for i, s in enumerate(shape):
        check_int(f"size[{i}]", s, ge=1)
    check_float("std", std, gt=0)
    centres = ring_centres(modes, radius)
    which = torch.randint(modes, shape, generator=generator)
    return centres[which] + std * torch.randn(*shape, 2, generator=generator)


class ModeCoverage(NamedTuple):
    """What `mode_coverage` measures, per model (the leading dimensions of the samples).

    Attributes:
        covered: how many modes received at least their minimum of high-quality samples (int64).
        high_quality: the share of samples within ``k`` standard deviations of some mode (float).
        counts: ``(..., modes)`` high-quality samples per mode (int64).
    """

    covered: Tensor
    high_quality: Tensor
    counts: Tensor


def mode_coverage(
    samples: Tensor, centres: Tensor, std: float, *, k: float = 3.0, min_share: float = 0.1
) -> ModeCoverage:
    """Measure mode collapse on a mixture of Gaussians: which modes a generator reaches, and how well.

    A sample is *high quality* when it lies within ``k * std`` of its nearest centre (VEEGAN, Srivastava
    et al. 2017, and PacGAN, Lin et al. 2018, count ``k = 3``). A mode is *covered* when it holds at least
    ``min_share`` of its fair share of the samples, ``min_share * n / modes``, as high-quality samples:
    a generator that drops a mode, or puts only a stray sample near it, does not cover it.

    Args:
        samples: ``(..., n, 2)`` points; leading dimensions are separate models (an ensemble).
        centres: ``(modes, 2)`` the mixture's centres (`ring_centres`).
        std: the mixture's standard deviation.
        k: the radius of "high quality", in standard deviations.
        min_share: the fraction of a fair share a mode needs to count as covered, in (0, 1].

    Returns:
        `ModeCoverage` ``(covered, high_quality, counts)`` with shapes ``(...)``, ``(...)`` and
        ``(..., modes)``.

    Raises:
        TypeError: `samples` or `centres` is not a tensor.
        ValueError: shapes that are not ``(..., n, 2)`` and ``(modes, 2)``, or bad `std`, `k`, `min_share`.

    Examples:
        >>> c = ring_centres(4, radius=1.0)
        >>> x = torch.cat([c[0].expand(30, 2), c[1].expand(10, 2)])  # half of the modes, unevenly
        >>> cov = mode_coverage(x, c, std=0.1)
        >>> cov.covered.item(), cov.high_quality.item(), cov.counts.tolist()
        (2, 1.0, [30, 10, 0, 0])
    """
    samples, centres = check_tensor("samples", samples), check_tensor("centres", centres)
    if samples.ndim < 2 or samples.shape[-1] != 2:
        raise ValueError(f"samples must have shape (..., n, 2), got {tuple(samples.shape)}")
    if centres.ndim != 2 or centres.shape[1] != 2:
        raise ValueError(f"centres must have shape (modes, 2), got {tuple(centres.shape)}")
    check_float("std", std, gt=0)
    check_float("k", k, gt=0)
    check_float("min_share", min_share, gt=0, le=1)
    samples = samples.detach().float()
    modes = centres.shape[0]
    dist = torch.cdist(samples, centres.float().expand(*samples.shape[:-2], modes, 2))
    nearest_dist, nearest = dist.min(dim=-1)
    good = nearest_dist < k * std
    counts = F.one_hot(nearest, modes).mul(good.unsqueeze(-1)).sum(dim=-2)
    need = min_share * samples.shape[-2] / modes
    return ModeCoverage((counts >= need).sum(dim=-1), good.float().mean(dim=-1), counts)


# --- losses ------------------------------------------------------------------------------------------------


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    r"""The discriminator's loss: binary cross-entropy with real = 1, fake = 0.

    $-\mathbb E[\log D(x)] - \mathbb E[\log(1 - D(G(z)))]$ with $D = \sigma(\text{logit})$, written with
    softplus (:math:`-\log\sigma(l) = \operatorname{softplus}(-l)`), which never takes the log of 0.

    Args:
        real_logits: logits on real data, any shape.
        fake_logits: logits on generated data, any shape.

    Returns:
        A scalar tensor (the two means added).

    Examples:
        >>> round(discriminator_loss(torch.zeros(4), torch.zeros(4)).item(), 4)  # 2 log 2
        1.3863
    """
    check_tensor("real_logits", real_logits)
    check_tensor("fake_logits", fake_logits)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(
    fake_logits: Tensor, kind: Literal["non-saturating", "minimax"] = "non-saturating"
) -> Tensor:
    r"""The generator's loss on the discriminator's logits for generated data.

    * ``"minimax"``: minimise $\mathbb E[\log(1 - D(G(z)))] = -\mathbb E[\operatorname{softplus}(l)]$,
      the game as Goodfellow et al. (2014) wrote it. Its gradient in the logit is $-\sigma(l)$, which
      vanishes when the discriminator rejects the fakes ($l \to -\infty$): it *saturates*.
    * ``"non-saturating"``: minimise $-\mathbb E[\log D(G(z))] = \mathbb E[\operatorname{softplus}(-l)]$,
      their practical fix; gradient $-(1 - \sigma(l)) \to -1$ exactly there.

    Args:
        fake_logits: logits of the discriminator on generated samples, any shape.
        kind: ``"non-saturating"`` or ``"minimax"``.

    Returns:
        A scalar tensor.

    Examples:
        >>> l = torch.tensor([-6.0], requires_grad=True)  # a confident "fake"
        >>> generator_loss(l, "minimax").backward(); round(l.grad.item(), 4)
        -0.0025
    """
    check_tensor("fake_logits", fake_logits)
    check_choice("kind", kind, ("non-saturating", "minimax"))
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


def critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    r"""The WGAN critic's loss $\mathbb E[f(G(z))] - \mathbb E[f(x)]$ (without the gradient penalty).

    Minimising it maximises the gap between the critic's mean score on real and on generated data, which
    for a 1-Lipschitz critic $f$ estimates the Wasserstein-1 distance (Arjovsky et al. 2017).

    Returns:
        A scalar tensor.
    """
    check_tensor("real_scores", real_scores)
    check_tensor("fake_scores", fake_scores)
    return fake_scores.mean() - real_scores.mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    event_dims: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""WGAN-GP's penalty $\mathbb E_{\hat x}\left[(\lVert \nabla_{\hat x} f(\hat x) \rVert_2 - 1)^2\right]$.

    $\hat x = \epsilon x + (1 - \epsilon) \tilde x$ with one $\epsilon \sim U[0, 1]$ per sample, on the
    segments between real samples $x$ and generated ones $\tilde x$ (Gulrajani et al. 2017, Algorithm 1).
    The graph is kept (``create_graph=True``) so that the penalty can be differentiated with respect to
    the critic's weights.

    Args:
        critic: maps a batch like `real` to scores; each sample's score may depend only on that sample.
        real: real samples, ``(*batch, *event)``.
        fake: generated samples of the same shape (detached from the generator).
        event_dims: how many trailing dimensions make one sample (its gradient's norm is taken over
            them); default: all but the first (``(N, C, H, W)`` images, ``(N, D)`` vectors). An ensemble
            of ``(M, N, D)`` points has ``event_dims=1``.
        generator: a ``torch.Generator`` for the draws of $\epsilon$.

    Returns:
        A scalar tensor, 0 for a critic whose gradient has norm 1 at every $\hat x$.

    Raises:
        TypeError: `critic` is not callable or a sample is not a tensor.
        ValueError: `real` and `fake` differ in shape, or a bad `event_dims`.

    Examples:
        >>> w = torch.tensor([0.6, 0.8])  # f(x) = w . x with |w| = 1 is 1-Lipschitz, gradient norm 1
        >>> gradient_penalty(lambda x: x @ w, torch.randn(5, 2), torch.randn(5, 2)).item()
        0.0
    """
    check_callable("critic", critic)
    real, fake = check_tensor("real", real), check_tensor("fake", fake)
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    event_dims = (
        real.ndim - 1 if event_dims is None else check_int("event_dims", event_dims, ge=1, lt=real.ndim)
    )
    batch_shape = real.shape[: real.ndim - event_dims]
    eps = torch.rand(*batch_shape, *([1] * event_dims), generator=generator, device=real.device)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norms = grad.flatten(start_dim=real.ndim - event_dims).norm(dim=-1)
    return (norms - 1).square().mean()


# --- networks ----------------------------------------------------------------------------------------------


class EnsembleLinear(nn.Module):
    """`n_models` independent linear layers applied at once: ``y[m] = x[m] @ weight[m] + bias[m]``.

    Each model's weights are initialised as `torch.nn.Linear` initialises its own (uniform in
    ``±1/sqrt(in_features)``). Since no weight is shared, training the ensemble with Adam on the sum
    (or the mean times ``n_models``) of the models' losses trains each model exactly as if alone; the one
    batched matrix product is what makes five seeds cost little more than one on a CPU.

    Shapes:
        ``(n_models, batch, in_features)`` -> ``(n_models, batch, out_features)``.
    """

    def __init__(self, n_models: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.n_models = check_int("n_models", n_models, ge=1)
        self.in_features = check_int("in_features", in_features, ge=1)
        self.out_features = check_int("out_features", out_features, ge=1)
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(n_models, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_models, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x)
        if x.ndim != 3 or x.shape[0] != self.n_models or x.shape[2] != self.in_features:
            raise ValueError(
                f"EnsembleLinear expects x of shape ({self.n_models}, batch, {self.in_features}), "
                f"got {tuple(x.shape)}"
            )
        return torch.baddbmm(self.bias, x, self.weight)


def ensemble_mlp(
    n_models: int, in_features: int, hidden: int, out_features: int, *, depth: int = 2
) -> nn.Sequential:
    """`n_models` independent MLPs ``in -> [hidden, ReLU] * depth -> out``, as one module of `EnsembleLinear`.

    Shapes:
        ``(n_models, batch, in_features)`` -> ``(n_models, batch, out_features)``.

    Examples:
        >>> ensemble_mlp(5, 2, 64, 1)(torch.randn(5, 10, 2)).shape
        torch.Size([5, 10, 1])
    """
    check_int("hidden", hidden, ge=1)
    check_int("depth", depth, ge=1)
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(depth):
        layers += [EnsembleLinear(n_models, width, hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*layers, EnsembleLinear(n_models, width, out_features))


def _dcgan_init(module: nn.Module) -> None:
    """Radford et al. (2016): weights from N(0, 0.02); BatchNorm scales from N(1, 0.02), shifts 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _check_image_size(image_size: int) -> int:
    check_int("image_size", image_size, ge=8)
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 (two stride-2 layers), got {image_size}")
    return image_size


class DCGANGenerator(nn.Module):
    """DCGAN's generator for 28×28 images (Radford et al. 2016, scaled down), or any multiple of 4.

    ``z -> ConvT 7×7 -> (4c, 7, 7) -> BN, ReLU -> ConvT 4×4 stride 2 -> (2c, 14, 14) -> BN, ReLU ->
    ConvT 4×4 stride 2 -> (1, 28, 28) -> tanh``, with ``c = width``: transposed convolutions instead of
    pooling or fully connected layers, BatchNorm everywhere but the output, ReLU inside and tanh at the end.
    With ``image_size=s`` the first layer makes ``s/4 × s/4`` maps instead of 7×7 (``s = 24``: 6 → 12 → 24,
    for the 24×24 crops of the LFW faces).

    Args:
        z_dim: length of the noise vector.
        width: the base number of channels ``c``.
        out_channels: channels of the images.
        image_size: height and width of the images, a multiple of 4 (at least 8).

    Shapes:
        ``(N, z_dim)`` -> ``(N, out_channels, image_size, image_size)`` in [-1, 1].
    """

    def __init__(self, z_dim: int = 32, width: int = 16, out_channels: int = 1, image_size: int = 28) -> None:
        super().__init__()
        self.z_dim = check_int("z_dim", z_dim, ge=1)
        check_int("width", width, ge=1)
        check_int("out_channels", out_channels, ge=1)
        self.image_size = _check_image_size(image_size)
        c, base = width, image_size // 4
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 4 * c, base, 1, 0, bias=False), nn.BatchNorm2d(4 * c), nn.ReLU(),
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(),
            nn.ConvTranspose2d(2 * c, out_channels, 4, 2, 1), nn.Tanh(),
        )  # fmt: skip
        self.apply(_dcgan_init)

    def forward(self, z: Tensor) -> Tensor:
        check_tensor("z", z)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"DCGANGenerator expects z of shape (N, {self.z_dim}), got {tuple(z.shape)}")
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """DCGAN's discriminator for 28×28 images: strided convolutions, LeakyReLU(0.2), one logit per image.

    ``(1, 28, 28) -> Conv 4×4 stride 2 -> (2c, 14, 14) -> LeakyReLU -> Conv 4×4 stride 2 -> (4c, 7, 7) ->
    norm, LeakyReLU -> Conv 7×7 -> logit``. No BatchNorm on the input layer (Radford et al. 2016). For a
    WGAN-GP critic use ``norm="none"``: the gradient penalty is taken per sample, and BatchNorm would make
    each sample's score depend on the rest of its batch (Gulrajani et al. 2017, section 4). With
    ``image_size=s`` the last convolution is ``s/4 × s/4``.

    Args:
        width: the base number of channels ``c``.
        in_channels: channels of the images.
        norm: ``"batch"`` (DCGAN) or ``"none"``.
        image_size: height and width of the images, a multiple of 4 (at least 8).

    Shapes:
        ``(N, in_channels, image_size, image_size)`` -> ``(N,)`` logits (or critic scores).
    """

    def __init__(
        self,
        width: int = 16,
        in_channels: int = 1,
        norm: Literal["batch", "none"] = "batch",
        image_size: int = 28,
    ) -> None:
        super().__init__()
        check_int("width", width, ge=1)
        self.in_channels = check_int("in_channels", in_channels, ge=1)
        check_choice("norm", norm, ("batch", "none"))
        self.image_size = _check_image_size(image_size)
        c, base = width, image_size // 4
        middle: nn.Module = nn.BatchNorm2d(4 * c) if norm == "batch" else nn.Identity()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 2 * c, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1, bias=norm != "batch"), middle, nn.LeakyReLU(0.2),
            nn.Conv2d(4 * c, 1, base, 1, 0),
        )  # fmt: skip
        self.apply(_dcgan_init)

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x)
        size = self.image_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_channels, size, size):
            raise ValueError(
                f"DCGANDiscriminator expects x of shape (N, {self.in_channels}, {size}, {size}), "
                f"got {tuple(x.shape)}"
            )
        return self.net(x).flatten()


# --- training ----------------------------------------------------------------------------------------------


def train_gan(
    generator_net: nn.Module,
    discriminator: nn.Module,
    real_batch: Callable[[torch.Generator], Tensor],
    noise_batch: Callable[[torch.Generator], Tensor],
    *,
    steps: int,
    loss: Loss = "non-saturating",
    n_critic: int = 1,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    gp_weight: float = 10.0,
    event_dims: int | None = None,
    n_models: int = 1,
    seed: int = 0,
    callback: Callable[[int, nn.Module], None] | None = None,
) -> dict[str, list[float]]:
    """Train a GAN: `n_critic` discriminator (critic) updates, then one generator update, `steps` times.

    * ``"non-saturating"`` / ``"minimax"``: `discriminator_loss` for the discriminator, `generator_loss`
      of that kind for the generator (Goodfellow et al. 2014);
    * ``"wgan-gp"``: `critic_loss` plus ``gp_weight`` times `gradient_penalty` for the critic, and
      ``-E[f(G(z))]`` for the generator (Gulrajani et al. 2017: ``n_critic=5``, ``lr=1e-4``,
      ``betas=(0.5, 0.9)``, ``gp_weight=10``).

    Both networks get their own Adam. For an ensemble (`ensemble_mlp`), the losses (means over all
    models) are multiplied by `n_models`, so that each model receives exactly its own gradient.

    Args:
        generator_net: maps a noise batch to samples.
        discriminator: maps samples to logits (critic scores for WGAN-GP).
        real_batch: ``real_batch(g)`` returns a batch of real samples, drawn with the generator ``g``.
        noise_batch: ``noise_batch(g)`` returns a batch of noise for `generator_net`.
        steps: generator updates.
        loss: ``"non-saturating"``, ``"minimax"`` or ``"wgan-gp"``.
        n_critic: discriminator updates per generator update.
        lr: Adam's learning rate, for both networks.
        betas: Adam's betas.
        gp_weight: the gradient penalty's weight λ (``"wgan-gp"`` only).
        event_dims: passed to `gradient_penalty` (``1`` for an ensemble of ``(M, N, D)`` points).
        n_models: how many independent models the networks hold (1 unless they are ensembles).
        seed: seeds the ``torch.Generator`` handed to `real_batch`, `noise_batch` and the penalty.
        callback: called as ``callback(step, generator_net)`` after each generator update (step from 1),
            e.g. to draw samples during training; the generator is left in training mode afterwards.

    Returns:
        ``{"d_loss": [...], "g_loss": [...]}``: the last discriminator loss and the generator loss of
        each step (for an ensemble, the mean over its models).

    Raises:
        TypeError, ValueError: a bad argument (named in the message).
    """
    for name, net in (("generator_net", generator_net), ("discriminator", discriminator)):
        if not isinstance(net, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(net).__name__}")
    check_callable("real_batch", real_batch)
    check_callable("noise_batch", noise_batch)
    check_int("steps", steps, ge=1)
    check_choice("loss", loss, LOSSES)
    check_int("n_critic", n_critic, ge=1)
    check_float("lr", lr, gt=0)
    check_float("gp_weight", gp_weight, ge=0)
    check_int("n_models", n_models, ge=1)
    if callback is not None:
        check_callable("callback", callback)
    g = torch.Generator().manual_seed(check_int("seed", seed, ge=0))
    opt_g = torch.optim.Adam(generator_net.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    history: dict[str, list[float]] = {"d_loss": [], "g_loss": []}
    generator_net.train()
    discriminator.train()
    for step in range(1, steps + 1):
        for _ in range(n_critic):
            real = real_batch(g)
            with torch.no_grad():
                fake = generator_net(noise_batch(g))
            if loss == "wgan-gp":
                d_loss = critic_loss(discriminator(real), discriminator(fake))
                d_loss = d_loss + gp_weight * gradient_penalty(
                    discriminator, real, fake, event_dims=event_dims, generator=g
                )
            else:
                d_loss = discriminator_loss(discriminator(real), discriminator(fake))
            opt_d.zero_grad(set_to_none=True)
            (n_models * d_loss).backward()
            opt_d.step()
        scores = discriminator(generator_net(noise_batch(g)))
        g_loss = -scores.mean() if loss == "wgan-gp" else generator_loss(scores, loss)
        opt_g.zero_grad(set_to_none=True)
        (n_models * g_loss).backward()
        opt_g.step()
        history["d_loss"].append(d_loss.item())
        history["g_loss"].append(g_loss.item())
        if callback is not None:
            callback(step, generator_net)
            generator_net.train()
    return history


class TrainedDCGAN(NamedTuple):
    """What `trained_dcgan` returns: the generator (eval mode) and the training losses."""

    generator: DCGANGenerator
    history: dict[str, list[float]]


@functools.lru_cache(maxsize=4)
def _train_dcgan(loss: Loss, steps: int, seed: int) -> tuple[dict, dict[str, list[float]]]:
    from lessons.datasets.images import load_mnist

    X_train, _, _, _ = load_mnist(test_size=1000, seed=0)  # the digit CNN's split: test digits stay out
    X_train = X_train * 2 - 1  # tanh's range
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        G = DCGANGenerator()
        D = DCGANDiscriminator(norm="none" if loss == "wgan-gp" else "batch")
        wgan = loss == "wgan-gp"
        history = train_gan(
            G, D, lambda g: X_train[torch.randint(len(X_train), (64,), generator=g)],
            lambda g: torch.randn(64, G.z_dim, generator=g), steps=steps, loss=loss,
            n_critic=5 if wgan else 1, lr=1e-4 if wgan else 2e-4, betas=(0.5, 0.9) if wgan else (0.5, 0.999),
            seed=seed,
        )  # fmt: skip
    return {k: v.detach().clone() for k, v in G.state_dict().items()}, history


def trained_dcgan(*, loss: Loss = "non-saturating", steps: int = 300, seed: int = 0) -> TrainedDCGAN:
    """A `DCGANGenerator` trained on 4,000 of the MNIST digits of `lessons.datasets.images.load_mnist`.

    The 4,000 training digits of ``load_mnist(test_size=1000, seed=0)`` (the split of
    `lessons.recipes.trained_digit_cnn`, so its 1,000 test digits stay unseen by both), scaled to [-1, 1],
    in batches of 64; the defaults of
    `DCGANGenerator` and `DCGANDiscriminator`; Adam with DCGAN's settings (``lr=2e-4``, ``betas=(0.5,
    0.999)``), or WGAN-GP's (``n_critic=5``, ``lr=1e-4``, ``betas=(0.5, 0.9)``, a critic without
    BatchNorm). Trained once per process for each argument combination and cached; later calls return a
    fresh copy of the weights.

    Args:
        loss: ``"non-saturating"``, ``"minimax"`` or ``"wgan-gp"``.
        steps: generator updates.
        seed: seeds the weights and every draw.

    Returns:
        `TrainedDCGAN` ``(generator, history)``. ``(generator(z) + 1) / 2`` gives images in [0, 1].

    Raises:
        TypeError, ValueError: a bad argument.
    """
    check_choice("loss", loss, LOSSES)
    check_int("steps", steps, ge=1)
    check_int("seed", seed, ge=0)
    state, history = _train_dcgan(loss, steps, seed)
    G = DCGANGenerator()
    G.load_state_dict(state)
    return TrainedDCGAN(G.eval(), {k: list(v) for k, v in history.items()})
