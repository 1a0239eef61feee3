"""Unit tests for lessons.models.autoencoder: shapes, the KL equal to torch.distributions, the negative ELBO
equal to a hand-written Bernoulli log-likelihood, training that lowers the loss, and clear errors."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from lessons.models.autoencoder import ConvAutoencoder, ConvVAE, gaussian_kl, negative_elbo, train_autoencoder


def test_autoencoder_shapes() -> None:
    model = ConvAutoencoder(latent_dim=5, channels=3)
    x = torch.rand(4, 1, 28, 28)
    assert model.encode(x).shape == (4, 5)
    assert model(x).shape == (4, 1, 28, 28)
    assert model.loss(x, x).ndim == 0


def test_vae_shapes_and_sampling() -> None:
    torch.manual_seed(0)
    vae = ConvVAE(latent_dim=3, channels=4)
    x = torch.rand(2, 1, 28, 28)
    logits, mu, logvar = vae(x, generator=torch.Generator().manual_seed(1))
    assert logits.shape == (2, 1, 28, 28) and mu.shape == logvar.shape == (2, 3)
    again, _, _ = vae(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(logits, again)  # the same generator gives the same z
    assert vae.decode(torch.zeros(7, 3)).shape == (7, 1, 28, 28)


def test_gaussian_kl_equals_torch_distributions() -> None:
    torch.manual_seed(0)
    mu, logvar = torch.randn(6, 4), torch.randn(6, 4)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(gaussian_kl(mu, logvar), expected, atol=1e-5)
    assert torch.equal(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def test_negative_elbo_is_bernoulli_nll_plus_kl() -> None:
    torch.manual_seed(0)
    logits = torch.randn(3, 1, 28, 28)
    x = (torch.rand(3, 1, 28, 28) > 0.5).float()
    mu, logvar = torch.randn(3, 2), torch.randn(3, 2)
    rec, kl = negative_elbo(logits, x, mu, logvar)
    expected = -Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(rec, expected, atol=1e-4)
    assert torch.allclose(kl, gaussian_kl(mu, logvar))


def test_training_lowers_the_loss_with_and_without_noise() -> None:
    torch.manual_seed(0)
    x = (torch.rand(64, 1, 28, 28) > 0.7).float()
    for model, noise in [(ConvAutoencoder(4, 4), 0.0), (ConvAutoencoder(4, 4), 0.3), (ConvVAE(2, 4), 0.0)]:
        history = train_autoencoder(model, x, epochs=3, batch_size=16, noise_std=noise, seed=0)
        assert len(history) == 3 and history[-1] < history[0]
        assert not model.training


def test_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="latent_dim"):
        ConvAutoencoder(latent_dim=0)
    with pytest.raises(TypeError, match="channels"):
        ConvVAE(channels=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 28, 28\)"):
        ConvAutoencoder(2, 2)(torch.zeros(2, 28, 28))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        ConvAutoencoder(2, 2).encode([[0.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same shape"):
        gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="binary"):
        negative_elbo(
            torch.zeros(1, 1, 28, 28), torch.full((1, 1, 28, 28), 0.5), torch.zeros(1, 2), torch.zeros(1, 2)
        )
    with pytest.raises(ValueError, match="logits must have the shape"):
        negative_elbo(
            torch.zeros(1, 1, 28, 27), torch.zeros(1, 1, 28, 28), torch.zeros(1, 2), torch.zeros(1, 2)
        )
    with pytest.raises(TypeError, match="loss"):
        train_autoencoder(torch.nn.Linear(2, 2), torch.zeros(1, 1, 28, 28), epochs=1)
    with pytest.raises(ValueError, match="noise_std"):
        train_autoencoder(ConvAutoencoder(2, 2), torch.zeros(1, 1, 28, 28), epochs=1, noise_std=-1.0)
    with pytest.raises(ValueError, match="epochs"):
        train_autoencoder(ConvAutoencoder(2, 2), torch.zeros(1, 1, 28, 28), epochs=0)
