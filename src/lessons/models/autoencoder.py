r"""Autoencoders for 28×28 digits: a convolutional autoencoder (`ConvAutoencoder`), its denoising use, and the
variational autoencoder of Kingma & Welling (2014) (`ConvVAE`), with the pieces of the VAE's objective
written out: the KL divergence of a diagonal Gaussian to the standard normal in closed form
(`gaussian_kl`) and the negative evidence lower bound in nats per image with a Bernoulli decoder
(`negative_elbo`).

Both models share one encoder and one decoder shape: two stride-2 convolutions take a ``(B, 1, 28, 28)``
image to ``(B, 2c, 7, 7)`` and a linear layer to the code; a linear layer and two stride-2 transposed
convolutions take the code back to ``(B, 1, 28, 28)`` *logits* (pixel values are their sigmoid). Each model
has a ``loss(inputs, targets)`` method, so `train_autoencoder` trains either one, on clean or noisy inputs.

Examples:
    >>> import torch
    >>> model = ConvAutoencoder(latent_dim=4, channels=4)
    >>> model.encode(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 4])
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 1, 28, 28])
    >>> vae = ConvVAE(latent_dim=3, channels=4)
    >>> [t.shape[-1] for t in vae(torch.zeros(2, 1, 28, 28))]
    [28, 3, 3]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons.checks import check_float, check_int, check_tensor

__all__ = ["ConvAutoencoder", "ConvVAE", "gaussian_kl", "negative_elbo", "train_autoencoder"]


def _check_images(name: str, x: object) -> Tensor:
    x = check_tensor(name, x)
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{name} must have shape (B, 1, 28, 28), got {tuple(x.shape)}")
    return x


def _encoder(channels: int, out_features: int) -> nn.Sequential:
    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 3, stride=2, padding=1),  # 28 -> 14
        nn.ReLU(),
        nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),  # 14 -> 7
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * c * 7 * 7, out_features),
    )


def _decoder(channels: int, latent_dim: int) -> nn.Sequential:
    c = channels
    return nn.Sequential(
        nn.Linear(latent_dim, 2 * c * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (2 * c, 7, 7)),
        nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1),  # 7 -> 14
        nn.ReLU(),
        nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),  # 14 -> 28, logits
    )


class ConvAutoencoder(nn.Module):
    """A convolutional autoencoder for ``(B, 1, 28, 28)`` images in [0, 1].

    Args:
        latent_dim: size ``d`` of the code.
        channels: channels ``c`` of the first convolution (the second has ``2c``).

    Raises:
        TypeError: a size is not an int.
        ValueError: a size is below 1.
    """

    def __init__(self, latent_dim: int = 16, channels: int = 16) -> None:
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, ge=1)
        channels = check_int("channels", channels, ge=1)
        self.encoder = _encoder(channels, self.latent_dim)
        self.decoder = _decoder(channels, self.latent_dim)

    def encode(self, x: Tensor) -> Tensor:
        """``(B, 1, 28, 28)`` images -> ``(B, d)`` codes."""
        return self.encoder(_check_images("x", x))

    def decode(self, z: Tensor) -> Tensor:
        """``(B, d)`` codes -> ``(B, 1, 28, 28)`` logits (apply ``torch.sigmoid`` for pixel values)."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 1, 28, 28)`` images -> ``(B, 1, 28, 28)`` logits of their reconstruction."""
        return self.decode(self.encode(x))

    def loss(self, inputs: Tensor, targets: Tensor) -> Tensor:
        """Mean squared error between the reconstruction of `inputs` and `targets` (both ``(B, 1, 28, 28)``);
        a denoising autoencoder passes noisy `inputs` and clean `targets`."""
        return F.mse_loss(torch.sigmoid(self(inputs)), _check_images("targets", targets))


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    r"""$\mathrm{KL}(\mathcal N(\mu, \mathrm{diag}\,\sigma^2)\,\|\,\mathcal N(0, I))$ in closed form, in nats:
    $\tfrac12\sum_j(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1)$.

    Args:
        mu: ``(B, d)`` means.
        logvar: ``(B, d)`` log-variances $\log\sigma^2$.

    Returns:
        ``(B,)`` one KL per row.

    Raises:
        TypeError: an argument is not a tensor.
        ValueError: the shapes differ.

    Examples:
        >>> gaussian_kl(torch.zeros(1, 2), torch.zeros(1, 2))  # the prior itself
        tensor([0.])
    """
    check_tensor("mu", mu)
    check_tensor("logvar", logvar)
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(-1)


def negative_elbo(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    r"""The negative ELBO of a VAE with a Bernoulli decoder, per image, in nats:
    $-\mathbb E_q[\log p(x\mid z)] + \mathrm{KL}(q(z\mid x)\,\|\,p(z))$, the expectation estimated with the
    one sample of $z$ that produced `logits`.

    Args:
        logits: ``(B, 1, 28, 28)`` decoder logits for one sample $z \sim q(z \mid x)$.
        x: ``(B, 1, 28, 28)`` binary (0/1) images; the likelihood of each pixel is Bernoulli.
        mu: ``(B, d)`` encoder means.
        logvar: ``(B, d)`` encoder log-variances.

    Returns:
        ``(reconstruction, kl)``, each ``(B,)``; their sum is the negative ELBO.

    Raises:
        TypeError: an argument is not a tensor.
        ValueError: a shape is wrong, or `x` is not binary.
    """
    check_tensor("logits", logits)
    _check_images("x", x)
    if logits.shape != x.shape:
        raise ValueError(f"logits must have the shape of x {tuple(x.shape)}, got {tuple(logits.shape)}")
    if not torch.all((x == 0) | (x == 1)):
        raise ValueError(
            "x must be binary (0/1) for a Bernoulli likelihood: binarize it, e.g. (x > 0.5).float()"
        )
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    return reconstruction, gaussian_kl(mu, logvar)


class ConvVAE(nn.Module):
    """A convolutional VAE: the encoder gives the mean and log-variance of $q(z \\mid x)$, a diagonal
    Gaussian; the decoder gives Bernoulli logits of $p(x \\mid z)$; the prior is $\\mathcal N(0, I)$.

    Args:
        latent_dim: size ``d`` of $z$.
        channels: channels ``c`` of the first convolution.

    Raises:
        TypeError: a size is not an int.
        ValueError: a size is below 1.
    """

    def __init__(self, latent_dim: int = 16, channels: int = 16) -> None:
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, ge=1)
        channels = check_int("channels", channels, ge=1)
        self.encoder = _encoder(channels, 2 * self.latent_dim)
        self.decoder = _decoder(channels, self.latent_dim)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, 1, 28, 28)`` images -> ``(mu, logvar)``, each ``(B, d)``."""
        mu, logvar = self.encoder(_check_images("x", x)).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """``(B, d)`` latents -> ``(B, 1, 28, 28)`` Bernoulli logits."""
        return self.decoder(z)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Encode, sample $z = \\mu + \\sigma\\odot\\varepsilon$ (the reparameterisation), decode.

        Returns:
            ``(logits, mu, logvar)``: ``(B, 1, 28, 28)``, ``(B, d)``, ``(B, d)``.
        """
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + (0.5 * logvar).exp() * eps
        return self.decode(z), mu, logvar

    def loss(self, inputs: Tensor, targets: Tensor) -> Tensor:
        """Mean negative ELBO per image (nats) of binary `targets` given `inputs` (usually the same)."""
        logits, mu, logvar = self(inputs)
        reconstruction, kl = negative_elbo(logits, targets, mu, logvar)
        return (reconstruction + kl).mean()


def train_autoencoder(
    model: nn.Module,
    images: Tensor,
    *,
    epochs: int,
    lr: float = 2e-3,
    batch_size: int = 64,
    noise_std: float = 0.0,
    seed: int = 0,
) -> list[float]:
    """Train `model` (anything with a ``loss(inputs, targets)`` method) with Adam to reconstruct `images`.

    Args:
        model: a `ConvAutoencoder`, a `ConvVAE` or any module with ``loss(inputs, targets) -> scalar``.
        images: ``(N, 1, 28, 28)`` training images, which are also the targets.
        epochs: passes over the data.
        lr: Adam's learning rate.
        batch_size: images per step.
        noise_std: standard deviation of Gaussian noise added to the inputs only (a denoising autoencoder);
            ``0`` trains on clean inputs.
        seed: seed of the shuffling and the noise (the model's own sampling uses torch's global RNG).

    Returns:
        The mean training loss of each epoch.

    Raises:
        TypeError: `model` has no ``loss`` method, or an argument has a wrong type.
        ValueError: an argument is out of range or `images` has a wrong shape.
    """
    if not callable(getattr(model, "loss", None)):
        raise TypeError(f"model must have a loss(inputs, targets) method, got {type(model).__name__}")
    _check_images("images", images)
    epochs = check_int("epochs", epochs, ge=1)
    lr = check_float("lr", lr, gt=0)
    batch_size = check_int("batch_size", batch_size, ge=1)
    noise_std = check_float("noise_std", noise_std, ge=0)
    gen = torch.Generator().manual_seed(check_int("seed", seed, ge=0))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history = []
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=gen)
        total = 0.0
        for start in range(0, len(images), batch_size):
            x = images[order[start : start + batch_size]]
            noisy = x + noise_std * torch.randn(x.shape, generator=gen) if noise_std else x
            loss = model.loss(noisy, x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
        history.append(total / len(images))
    model.eval()
    return history
