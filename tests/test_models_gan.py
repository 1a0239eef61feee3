"""lessons.models.gan: the ring data, mode coverage, the losses, the networks and the training loop."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessons.models.gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    EnsembleLinear,
    critic_loss,
    discriminator_loss,
    ensemble_mlp,
    generator_loss,
    gradient_penalty,
    mode_coverage,
    ring_centres,
    sample_ring,
    train_gan,
    trained_dcgan,
)


def test_ring_samples_lie_around_their_centres():
    g = torch.Generator().manual_seed(0)
    centres = ring_centres(8, radius=2.0)
    assert centres.shape == (8, 2)
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    x = sample_ring((3, 4000), std=0.05, generator=g)
    assert x.shape == (3, 4000, 2)
    cov = mode_coverage(x, centres, std=0.05)
    assert cov.covered.tolist() == [8, 8, 8]
    assert torch.allclose(cov.high_quality, torch.full((3,), 0.989), atol=0.01)  # P(|N(0, I_2)| < 3)
    assert cov.counts.sum(-1).tolist() == (cov.high_quality * 4000).round().long().tolist()


def test_mode_coverage_counts_a_collapsed_generator():
    centres = ring_centres(8)
    g = torch.Generator().manual_seed(1)
    x = centres[0] + 0.05 * torch.randn(1000, 2, generator=g)
    x[:5] = centres[3]  # five stray samples are not a covered mode (fair share 125, need 12.5)
    cov = mode_coverage(x, centres, std=0.05)
    assert cov.covered.item() == 1 and cov.counts[3].item() == 5
    far = mode_coverage(torch.zeros(10, 2), centres, std=0.05)  # the ring's middle: no quality at all
    assert far.covered.item() == 0 and far.high_quality.item() == 0.0


def test_ring_and_coverage_reject_bad_input():
    with pytest.raises(ValueError, match="modes"):
        ring_centres(0)
    with pytest.raises(ValueError, match="std"):
        sample_ring(10, std=0.0)
    with pytest.raises(ValueError, match=r"size\[1\]"):
        sample_ring((2, 0))
    with pytest.raises(TypeError, match="samples"):
        mode_coverage([[0.0, 0.0]], ring_centres(), std=0.1)
    with pytest.raises(ValueError, match=r"\(\.\.\., n, 2\)"):
        mode_coverage(torch.zeros(10, 3), ring_centres(), std=0.1)
    with pytest.raises(ValueError, match="centres"):
        mode_coverage(torch.zeros(10, 2), torch.zeros(8), std=0.1)
    with pytest.raises(ValueError, match="min_share"):
        mode_coverage(torch.zeros(10, 2), ring_centres(), std=0.1, min_share=0.0)


def test_losses_equal_binary_cross_entropy():
    g = torch.Generator().manual_seed(2)
    real, fake = torch.randn(16, generator=g), torch.randn(16, generator=g)
    bce = F.binary_cross_entropy_with_logits
    expected = bce(real, torch.ones(16)) + bce(fake, torch.zeros(16))
    assert torch.allclose(discriminator_loss(real, fake), expected)
    assert torch.allclose(generator_loss(fake), bce(fake, torch.ones(16)))
    assert torch.allclose(generator_loss(fake, "minimax"), -bce(fake, torch.zeros(16)))
    assert torch.allclose(critic_loss(real, fake), fake.mean() - real.mean())


def test_minimax_loss_saturates_where_the_non_saturating_one_does_not():
    logits = torch.tensor([-8.0, -4.0, 0.0], requires_grad=True)
    (minimax,) = torch.autograd.grad(generator_loss(logits, "minimax") * 3, logits)
    (nonsat,) = torch.autograd.grad(generator_loss(logits) * 3, logits)
    assert torch.allclose(minimax, -torch.sigmoid(logits.detach()))
    assert torch.allclose(nonsat, -(1 - torch.sigmoid(logits.detach())))
    assert minimax[0].abs() < 1e-3 < 0.99 < nonsat[0].abs()


def test_gradient_penalty_is_zero_for_unit_norm_linear_critic_and_known_otherwise():
    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(32, 1, 4, 4, generator=g), torch.randn(32, 1, 4, 4, generator=g)
    w = torch.randn(16, generator=g)
    unit = lambda x: x.flatten(1) @ (w / w.norm())  # noqa: E731
    assert gradient_penalty(unit, real, fake, generator=g).item() == pytest.approx(0.0, abs=1e-12)
    double = lambda x: x.flatten(1) @ (2 * w / w.norm())  # noqa: E731 (gradient norm 2 everywhere)
    assert gradient_penalty(double, real, fake, generator=g).item() == pytest.approx(1.0)
    # an ensemble: norms per point over the last axis only
    pts_r, pts_f = torch.randn(3, 10, 2, generator=g), torch.randn(3, 10, 2, generator=g)
    half = lambda x: 0.5 * x[..., 0]  # noqa: E731
    assert gradient_penalty(half, pts_r, pts_f, event_dims=1).item() == pytest.approx(0.25)


def test_gradient_penalty_reaches_the_critic_weights():
    critic = nn.Linear(2, 1)
    gp = gradient_penalty(lambda x: critic(x).squeeze(1), torch.randn(8, 2), torch.randn(8, 2))
    gp.backward()
    w = critic.weight.detach()
    assert torch.allclose(critic.weight.grad, 2 * (w.norm() - 1) * w / w.norm(), atol=1e-6)


def test_losses_reject_bad_input():
    with pytest.raises(TypeError, match="real_logits"):
        discriminator_loss([0.0], torch.zeros(1))
    with pytest.raises(ValueError, match="kind"):
        generator_loss(torch.zeros(1), "wgan")
    with pytest.raises(TypeError, match="critic"):
        gradient_penalty(3, torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(lambda x: x.sum(1), torch.zeros(2, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="event_dims"):
        gradient_penalty(lambda x: x.sum(1), torch.zeros(2, 2), torch.zeros(2, 2), event_dims=2)


def test_ensemble_members_are_independent():
    torch.manual_seed(0)
    layer = EnsembleLinear(3, 4, 2)
    x = torch.randn(3, 5, 4)
    y = layer(x)
    for m in range(3):
        assert torch.allclose(y[m], x[m] @ layer.weight[m] + layer.bias[m], atol=1e-6)
    net = ensemble_mlp(3, 4, 8, 1)
    out = net(x)
    out[1].sum().backward()  # only model 1 receives a gradient
    grads = net[0].weight.grad
    assert grads[1].abs().sum() > 0 and grads[0].abs().sum() == 0 and grads[2].abs().sum() == 0
    assert math.isclose(layer.weight.abs().max().item(), 0.5, abs_tol=0.1)  # uniform in +-1/sqrt(4)


def test_ensemble_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(3, batch, 4\)"):
        EnsembleLinear(3, 4, 2)(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="n_models"):
        EnsembleLinear(0, 4, 2)


def test_dcgan_shapes_and_errors():
    G, D = DCGANGenerator(z_dim=8, width=4), DCGANDiscriminator(width=4)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    assert D(x).shape == (5,)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in DCGANDiscriminator(width=4, norm="none").modules())
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        G(torch.randn(5, 7))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        D(torch.randn(5, 1, 32, 32))
    with pytest.raises(ValueError, match="norm"):
        DCGANDiscriminator(norm="layer")


def test_train_gan_ensemble_equals_separate_models():
    """Two models trained as an ensemble end with the weights that model 0 reaches when trained alone."""
    data = sample_ring((2, 32), generator=torch.Generator().manual_seed(0))
    noise = torch.randn(2, 32, 2, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    G, D = ensemble_mlp(2, 2, 8, 2), ensemble_mlp(2, 2, 8, 1)
    G1, D1 = ensemble_mlp(1, 2, 8, 2), ensemble_mlp(1, 2, 8, 1)
    with torch.no_grad():  # model 0 alone: its slice of the weights in a one-model ensemble
        for big, small in ((G, G1), (D, D1)):
            for p, q in zip(big.parameters(), small.parameters(), strict=True):
                q.copy_(p[:1])
    kw = dict(steps=3, n_critic=2, lr=1e-2)
    train_gan(G, D, lambda g: data, lambda g: noise, n_models=2, **kw)
    train_gan(G1, D1, lambda g: data[:1], lambda g: noise[:1], **kw)
    for p, q in zip(G.parameters(), G1.parameters(), strict=True):
        assert torch.allclose(p[:1], q, atol=1e-6)


def test_train_gan_records_losses_and_calls_back():
    torch.manual_seed(0)
    G, D = ensemble_mlp(1, 2, 8, 2), ensemble_mlp(1, 2, 8, 1)
    seen = []
    history = train_gan(
        G, D, lambda g: sample_ring((1, 16), generator=g), lambda g: torch.randn(1, 16, 2, generator=g),
        steps=4, callback=lambda step, net: seen.append(step),
    )  # fmt: skip
    assert seen == [1, 2, 3, 4] and len(history["d_loss"]) == len(history["g_loss"]) == 4
    with pytest.raises(ValueError, match="loss"):
        train_gan(G, D, lambda g: None, lambda g: None, steps=1, loss="hinge")
    with pytest.raises(TypeError, match="discriminator"):
        train_gan(G, "D", lambda g: None, lambda g: None, steps=1)
    with pytest.raises(ValueError, match="steps"):
        train_gan(G, D, lambda g: None, lambda g: None, steps=0)


def test_trained_dcgan_is_cached_and_checked():
    a = trained_dcgan(steps=2)
    b = trained_dcgan(steps=2)
    assert a.generator is not b.generator
    assert all(
        torch.equal(p, q)
        for p, q in zip(a.generator.state_dict().values(), b.generator.state_dict().values(), strict=True)
    )
    assert len(a.history["g_loss"]) == 2 and not a.generator.training
    with pytest.raises(ValueError, match="loss"):
        trained_dcgan(loss="hinge")
