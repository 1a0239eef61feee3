"""Unit tests for lessons.models.ddpm: schedules, posterior and steps equal to diffusers' DDPMScheduler and
DDIMScheduler, the sampling loop equal to a loop over the schedulers, the loss, and clear errors."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from lessons.models.ddpm import (
    DiffusionSchedule,
    diffusion_loss,
    guided_noise,
    make_betas,
    resize_digits,
    sample,
    trained_ddpm,
)
from lessons.models.unet import UNet

HF_KIND = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def toy_model(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    shift = 0.0 if y is None else (y.float() / 10)[:, None, None, None]
    return torch.tanh(x) * (t.float() / 1000)[:, None, None, None] + 0.1 + shift


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedule_equals_ddpm_scheduler(kind: str) -> None:
    s, ref = DiffusionSchedule(1000, kind), DDPMScheduler(1000, beta_schedule=HF_KIND[kind])
    assert torch.equal(s.betas, ref.betas) and torch.equal(s.alphas_cumprod, ref.alphas_cumprod)
    ref_var = torch.stack([ref._get_variance(t) for t in range(1000)])
    assert torch.allclose(s.posterior_variance.clamp_min(1e-20), ref_var, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("steps", [None, 50])
def test_ddpm_step_equals_ddpm_scheduler(kind: str, steps: int | None) -> None:
    s, ref = DiffusionSchedule(1000, kind), DDPMScheduler(1000, beta_schedule=HF_KIND[kind])
    if steps:
        ref.set_timesteps(steps)
    ts = s.timesteps(steps)
    assert ts == (ref.timesteps.tolist() if steps else list(range(999, -1, -1)))
    xt, eps = torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
    for i in (0, len(ts) // 2, len(ts) - 1):
        t, t_prev = ts[i], ts[i + 1] if i + 1 < len(ts) else -1
        mine = s.ddpm_step(eps, t, xt, t_prev=t_prev, generator=gen(i))
        theirs = ref.step(eps, t, xt, generator=gen(i)).prev_sample
        assert torch.allclose(mine, theirs, atol=1e-6)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_sampling_equals_ddim_scheduler(eta: float) -> None:
    s, ref = DiffusionSchedule(1000), DDIMScheduler(1000)
    ref.set_timesteps(20)
    assert s.timesteps(20) == ref.timesteps.tolist()
    x = torch.randn(2, 1, 8, 8, generator=gen(0))
    mine = sample(toy_model, s, (2, 1, 8, 8), method="ddim", steps=20, eta=eta, generator=gen(0))
    g = gen(0)
    x = torch.randn(2, 1, 8, 8, generator=g)  # sample() draws the start first, from the same generator
    for t in ref.timesteps.tolist():
        eps = toy_model(x, torch.full((2,), t), torch.full((2,), 10))
        x = ref.step(eps, t, x, eta=eta, generator=g).prev_sample
    assert torch.allclose(mine, x, atol=1e-5)


def test_ddpm_sampling_equals_ddpm_scheduler_loop() -> None:
    s, ref = DiffusionSchedule(100, "cosine"), DDPMScheduler(100, beta_schedule="squaredcos_cap_v2")
    mine = sample(toy_model, s, (2, 1, 4, 4), generator=gen(3))
    g = gen(3)
    x = torch.randn(2, 1, 4, 4, generator=g)
    for t in range(99, -1, -1):
        x = ref.step(toy_model(x, torch.full((2,), t), torch.full((2,), 10)), t, x, generator=g).prev_sample
    assert torch.allclose(mine, x, atol=1e-5)


def test_ddim_with_eta_one_is_the_ddpm_step() -> None:
    s = DiffusionSchedule(1000)
    xt, eps = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    for t in (999, 600, 300):
        a = s.ddim_step(eps, t, t - 1, xt, eta=1.0, generator=gen(t), clip=False)
        b = s.ddpm_step(eps, t, xt, generator=gen(t), clip=False)
        assert torch.allclose(a, b, atol=1e-5)


def test_q_sample_closed_form_and_posterior_at_zero() -> None:
    s = DiffusionSchedule(10)
    x0, noise = torch.randn(3, 2), torch.randn(3, 2)
    t = torch.tensor([0, 5, 9])
    abar = s.alphas_cumprod[t][:, None]
    assert torch.allclose(s.q_sample(x0, t, noise), abar.sqrt() * x0 + (1 - abar).sqrt() * noise)
    mean, var = s.posterior(x0, torch.randn(3, 2), 0)  # one step before t = 0 is the clean image
    assert torch.allclose(mean, x0, atol=1e-6) and var < 1e-12
    assert s.posterior_variance[0] == 0


def test_guidance_combines_conditional_and_unconditional() -> None:
    x, y = torch.randn(4, 1, 4, 4), torch.tensor([0, 1, 2, 3])
    cond = guided_noise(toy_model, x, 500, y, 1.0, 10)
    uncond = guided_noise(toy_model, x, 500, None, 1.0, 10)
    w3 = guided_noise(toy_model, x, 500, y, 3.0, 10)
    assert torch.allclose(w3, uncond + 3 * (cond - uncond), atol=1e-6)
    assert torch.allclose(guided_noise(toy_model, x, 500, y, 0.0, 10), uncond)


def test_loss_trains_the_unet_and_label_dropout_uses_the_null_label() -> None:
    torch.manual_seed(0)
    s, net = DiffusionSchedule(50), UNet((8, 16), num_steps=50, emb_dim=16)
    x0, y = torch.rand(16, 1, 8, 8) * 2 - 1, torch.randint(0, 10, (16,))
    loss = diffusion_loss(net, s, x0, y, generator=gen(0))
    assert loss.ndim == 0 and loss.item() > 0.5  # an untrained net predicts about nothing
    seen = []
    diffusion_loss(lambda x, t, lab: seen.append(lab) or torch.zeros_like(x), s, x0, y, p_uncond=1.0)
    assert torch.all(seen[0] == 10)
    diffusion_loss(lambda x, t, lab: seen.append(lab) or torch.zeros_like(x), s, x0, y, p_uncond=0.0)
    assert torch.equal(seen[1], y)


def test_make_betas_values() -> None:
    b = make_betas(1000)
    assert b[0].item() == pytest.approx(1e-4) and b[-1].item() == pytest.approx(0.02)
    c = make_betas(1000, "cosine")
    assert c.max().item() == pytest.approx(0.999) and torch.all(c > 0)


def test_bad_input_is_named() -> None:
    s = DiffusionSchedule(100)
    x = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match="kind"):
        make_betas(10, "quadratic")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="num_steps"):
        DiffusionSchedule(10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="beta_end"):
        make_betas(10, beta_end=1.5)
    with pytest.raises(ValueError, match="noise"):
        s.q_sample(x, torch.tensor([0, 1]), torch.zeros(2, 1, 4, 5))
    with pytest.raises(ValueError, match="t must lie"):
        s.q_sample(x, torch.tensor([0, 100]), x)
    with pytest.raises(ValueError, match="t must be 2 integer"):
        s.q_sample(x, torch.tensor([0.0, 1.0]), x)
    with pytest.raises(ValueError, match="t_prev"):
        s.ddim_step(x, 50, 50, x)
    with pytest.raises(ValueError, match="eta"):
        s.ddim_step(x, 50, 10, x, eta=2.0)
    with pytest.raises(ValueError, match="steps"):
        s.timesteps(101)
    with pytest.raises(ValueError, match="method"):
        sample(toy_model, s, (2, 1, 4, 4), method="euler")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="labels"):
        sample(toy_model, s, (2, 1, 4, 4), labels=torch.tensor([1]))
    with pytest.raises(TypeError, match="model"):
        sample("net", s, (2, 1, 4, 4))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="p_uncond"):
        diffusion_loss(toy_model, s, x, p_uncond=1.5)


def test_resize_digits_round_trip_and_errors() -> None:
    x = torch.rand(3, 1, 28, 28, generator=gen(0))
    small = resize_digits(x, 16)
    assert small.shape == (3, 1, 16, 16) and small.min() >= 0 and small.max() <= 1
    assert torch.allclose(small.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.02)  # antialiased
    big = resize_digits(small * 3 - 1, 28)  # a sample's range, [-1, 2]: clamped
    assert big.shape == (3, 1, 28, 28) and big.min() == 0 and big.max() == 1
    with pytest.raises(ValueError, match="images"):
        resize_digits(torch.zeros(28, 28), 16)
    with pytest.raises(ValueError, match="size"):
        resize_digits(x, 0)
    with pytest.raises(TypeError, match="images"):
        resize_digits(x.numpy(), 16)


def test_trained_ddpm_is_cached_reproducible_and_checked() -> None:
    a, b = trained_ddpm(steps=3), trained_ddpm(steps=3)
    assert a.model is not b.model and not a.model.training
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True))
    assert len(a.history) == 3 and a.history == b.history and 0.1 < a.history[0] < 3
    assert a.schedule.num_steps == a.model.num_steps == 100
    x = sample(a.model, a.schedule, (2, 1, 16, 16), labels=torch.tensor([3, 7]), guidance=3.0, steps=5)
    assert x.shape == (2, 1, 16, 16)
    assert trained_ddpm(steps=3, seed=1).history != a.history
    with pytest.raises(ValueError, match="steps"):
        trained_ddpm(steps=0)
    with pytest.raises(TypeError, match="seed"):
        trained_ddpm(seed=1.5)
