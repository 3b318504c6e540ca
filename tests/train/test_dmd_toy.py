"""DMD + GAN where the answer is known: distil a multi-step flow-matching teacher of a 2-D Gaussian
mixture into a one-step generator through the same `rtrdit.train.dmd` functions the DiT uses."""

from __future__ import annotations

import copy

import pytest
import torch
from train_toy import ToyCritic, ToyFlow, energy_distance, mode_counts, sample_data

from rtrdit.train.dmd import critic_loss, critic_times, generator_loss
from rtrdit.train.flow_matching import add_noise, euler_sample, flow_matching_loss, time_grid


@pytest.mark.slow
def test_dmd_with_gan_distils_a_mixture_teacher_into_a_one_step_generator() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    teacher = ToyFlow()
    opt = torch.optim.Adam(teacher.parameters(), lr=2e-3)
    for _ in range(600):
        x0, n, t = sample_data(256, g), torch.randn(256, 2, generator=g), torch.rand(256, generator=g)
        loss = flow_matching_loss(teacher(add_noise(x0, n, t), t), x0, n)
        opt.zero_grad()
        loss.backward()
        opt.step()
    teacher.requires_grad_(False)
    data, z = sample_data(1000, g), torch.randn(1000, 2, generator=g)
    multi_step = euler_sample(teacher, z, time_grid(30, 1.0))[-1]
    assert energy_distance(multi_step, data) < 0.03  # the teacher is a good multi-step sampler

    gen = copy.deepcopy(teacher).requires_grad_(True)  # initialised from the teacher, like the student

    def one_step(noise: torch.Tensor) -> torch.Tensor:
        return noise - gen(noise, torch.ones(noise.shape[0]))

    with torch.no_grad():
        before = energy_distance(one_step(z), data)
        before_counts = mode_counts(one_step(z))
    critic = ToyCritic(copy.deepcopy(teacher).requires_grad_(True))

    def real_x0(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x_t - t[:, None] * teacher(x_t, t)

    gopt = torch.optim.Adam(gen.parameters(), lr=3e-3, betas=(0.0, 0.999))
    copt = torch.optim.Adam(critic.parameters(), lr=3e-3, betas=(0.0, 0.999))
    for step in range(500):
        if step % 5 == 0:  # five fake-score updates per generator update
            x = one_step(torch.randn(256, 2, generator=g))
            t = critic_times(torch.rand(256, generator=g), 1.0, 0.02, 0.98)
            loss, m = generator_loss(x, torch.randn(256, 2, generator=g), t, real_x0, critic, gan_weight=0.01)
            gopt.zero_grad()
            loss.backward()
            gopt.step()
            copt.zero_grad()
            assert loss.dtype == torch.float64 and "gan_g" in m
        with torch.no_grad():
            x = one_step(torch.randn(256, 2, generator=g))
        t = critic_times(torch.rand(256, generator=g), 1.0, 0.02, 0.98)
        loss, m = critic_loss(x, sample_data(256, g), torch.randn(256, 2, generator=g), t, critic)
        copt.zero_grad()
        loss.backward()
        copt.step()
    with torch.no_grad():
        x = one_step(z)
    after = energy_distance(x, data)
    counts = mode_counts(x)
    assert before > 0.5 and before_counts.sum() < 50  # untrained: collapsed between the modes
    assert after < before / 10, (before, after)
    assert bool((counts > 100).all()), counts.tolist()  # every mode holds >= 10% of the samples


def test_dmd_gradient_vanishes_when_fake_equals_real_and_points_from_fake_to_real() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g, requires_grad=True)
    noise, t = torch.randn(64, 2, generator=g), torch.full((64,), 0.5)
    target = torch.tensor([1.0, -1.0])

    def real_x0(x_t: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        return target.expand_as(x_t)

    def critic_same(x_t: torch.Tensor, tt: torch.Tensor):  # fake x0 == real x0: flow = (x_t - x0) / t
        return (x_t - target) / tt[:, None], None

    loss, _ = generator_loss(x, noise, t, real_x0, critic_same)
    loss.backward()
    assert float(loss.detach()) < 1e-12 and float(x.grad.abs().max()) < 1e-8

    def critic_zero(x_t: torch.Tensor, tt: torch.Tensor):  # fake x0 = x_t
        return torch.zeros_like(x_t), None

    x.grad = None
    loss, _ = generator_loss(x, noise, t, real_x0, critic_zero)
    loss.backward()
    step = -x.grad  # gradient descent moves x along (real - fake)
    fake = add_noise(x.detach(), noise, t)
    cos = torch.nn.functional.cosine_similarity(step, target - fake, dim=1)
    assert bool((cos > 0.99).all())
