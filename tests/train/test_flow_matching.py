"""Flow-matching pieces: forward process, clean estimate, shift, Euler sampler."""

from __future__ import annotations

import torch

from rtrdit.train.flow_matching import add_noise, euler_sample, shift_time, time_grid, x0_from_flow


def test_add_noise_endpoints_and_x0_inverts_the_true_flow() -> None:
    g = torch.Generator().manual_seed(0)
    z0, n = torch.randn(3, 16, 2, 4, 4, generator=g), torch.randn(3, 16, 2, 4, 4, generator=g)
    assert torch.equal(add_noise(z0, n, torch.zeros(3)), z0)
    assert torch.equal(add_noise(z0, n, torch.ones(3)), n)
    t = torch.tensor([0.1, 0.5, 0.9])
    torch.testing.assert_close(x0_from_flow(add_noise(z0, n, t), n - z0, t), z0)
    tf = torch.rand(3, 2, generator=g)  # per-frame times
    torch.testing.assert_close(x0_from_flow(add_noise(z0, n, tf), n - z0, tf), z0)


def test_shift_is_monotone_fixes_the_ends_and_pushes_to_noise() -> None:
    u = torch.linspace(0, 1, 11)
    s = shift_time(u, 5.0)
    assert s[0] == 0 and abs(float(s[-1]) - 1) < 1e-6
    assert bool((s[1:] > s[:-1]).all()) and bool((s[1:-1] > u[1:-1]).all())
    assert abs(float(shift_time(0.5, 5.0)) - 5 / 6) < 1e-6  # Self Forcing's 500 -> 833.3


def test_euler_sampler_is_exact_on_a_straight_flow_and_visits_included_times() -> None:
    z0 = torch.randn(2, 5)
    noise = torch.randn(2, 5)
    grid = time_grid(4, 3.0, include=[0.7])
    assert any(abs(float(t) - 0.7) < 1e-6 for t in grid) and float(grid[0]) == 1.0 and float(grid[-1]) == 0.0
    states = euler_sample(lambda z, t: noise - z0, noise, grid)
    torch.testing.assert_close(states[-1], z0)
    assert len(states) == len(grid)
