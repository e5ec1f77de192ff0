"""The flow sampler (maskvat.sampling.flow): the ODE solvers' exactness on known flows, guidance,
batch independence, fixed frames, determinism."""

import pytest
import torch

from maskvat.errors import MaskvatError
from maskvat.model.vtaldm import VTALDM, vtaldm_config
from maskvat.sampling.flow import guided_velocity, integrate, sample_latent, time_grid
from maskvat.sampling.sampler import SamplerSettings

H = 64


def tiny(seed: int = 0) -> VTALDM:
    torch.manual_seed(seed)
    model = VTALDM(vtaldm_config("debug-vtaldm"))
    with torch.no_grad():
        for p in model.parameters():  # wake the zero-initialised adaLN layers
            p.add_(torch.randn_like(p) * 0.05)
        model.latent_mean.normal_()
        model.latent_std.uniform_(0.5, 2.0)
    return model.eval()


def video(b: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 4, 128, generator=g), torch.randn(b, 12, 64, generator=g)


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_a_constant_velocity_integrates_exactly(solver):
    x0, v = torch.randn(3, 5), torch.randn(3, 5)
    calls = []

    def velocity(x, t):
        calls.append(t)
        return v

    x1 = integrate(velocity, x0, time_grid(3), solver)
    torch.testing.assert_close(x1, x0 + v)
    assert len(calls) == (3 if solver == "euler" else 6)  # one pass per step, or two
    assert calls[0] == 0.0 and (solver == "euler" or calls[-1] == 1.0)


def test_heun_is_exact_for_a_velocity_linear_in_time_and_euler_is_not():
    x0, a, b = torch.randn(4), torch.randn(4), torch.randn(4)

    def velocity(x, t):  # x(1) = x0 + a + b / 2
        return a + b * t

    exact = x0 + a + b / 2
    torch.testing.assert_close(integrate(velocity, x0, time_grid(2), "heun"), exact)
    euler = integrate(velocity, x0, time_grid(2), "euler")
    torch.testing.assert_close(euler, x0 + a + b / 4)  # left Riemann sum: b (0 + 1/2) / 2
    assert not torch.allclose(euler, exact)


def test_heun_converges_faster_than_euler_on_a_curved_flow():
    x0 = torch.ones(1)
    exact = torch.exp(torch.ones(1))  # dx/dt = x

    def err(solver, steps):
        return float((integrate(lambda x, t: x, x0, time_grid(steps), solver) - exact).abs())

    assert err("heun", 4) < err("euler", 4) / 10
    assert err("heun", 8) < err("heun", 4) / 3  # second order: ~4x per halving
    with pytest.raises(MaskvatError, match="solver"):
        integrate(lambda x, t: x, x0, time_grid(2), "rk4")


def test_guided_velocity_combines_the_two_passes():
    model = tiny()
    sem, syn = video()
    cond, null = model.condition_pair(sem, syn, length=40)
    x = torch.randn(2, 40, H)
    t = torch.full((2,), 0.3)
    v_c, v_u = model.velocity(x, t, cond), model.velocity(x, t, null)
    both = cond.cat(cond, null)
    torch.testing.assert_close(guided_velocity(model, both, 2.5)(x, 0.3), 3.5 * v_c - 2.5 * v_u,
                               atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(guided_velocity(model, cond, 0.0)(x, 0.3), v_c)
    assert not torch.allclose(v_c, v_u, atol=1e-4)  # the guidance has something to act on


def test_sampler_follows_a_known_flow_to_its_end():
    """A stand-in model whose velocity is the straight line from the noise to a target: one Euler
    step lands on the target; the sampler returns it in codec units ([B, H, L])."""
    model = tiny()
    target = torch.randn(2, 40, H)
    noise = torch.randn(2, 40, H)
    model.velocity = lambda x, t, memory: target - noise  # a constant field
    sem, syn = video()
    cond = model.condition(sem, syn, length=40)
    out = sample_latent(model, cond, 40, SamplerSettings(steps=1, guidance=0.0, solver="euler"), noise=noise)
    torch.testing.assert_close(out, model.denormalise(target), atol=1e-5, rtol=1e-5)


def test_batch_equals_items_alone_and_seeds_repeat():
    model = tiny()
    sem, syn = video(3)
    cond, null = model.condition_pair(sem, syn, length=40)
    noise = torch.randn(3, 40, H, generator=torch.Generator().manual_seed(5))
    s = SamplerSettings(steps=3, guidance=2.0)
    both = sample_latent(model, cond, 40, s, uncond=null, noise=noise)
    assert both.shape == (3, H, 40) and torch.isfinite(both).all()
    for i in range(3):
        c, u = model.condition_pair(sem[i:i + 1], syn[i:i + 1], length=40)
        alone = sample_latent(model, c, 40, s, uncond=u, noise=noise[i:i + 1])
        torch.testing.assert_close(both[i:i + 1], alone, atol=1e-4, rtol=1e-4)
    a = sample_latent(model, cond, 40, s, torch.Generator().manual_seed(1), uncond=null)
    b = sample_latent(model, cond, 40, s, torch.Generator().manual_seed(1), uncond=null)
    c = sample_latent(model, cond, 40, s, torch.Generator().manual_seed(2), uncond=null)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    with pytest.raises(ValueError, match="uncond"):
        sample_latent(model, cond, 40, s)


def test_fixed_frames_end_as_given_and_the_rest_is_generated():
    model = tiny()
    sem, syn = video()
    cond, null = model.condition_pair(sem, syn, length=40)
    known = torch.randn(2, H, 40) * 2
    keep = torch.zeros(2, 40, dtype=torch.bool)
    keep[:, :10] = True
    s = SamplerSettings(steps=4, guidance=1.0)
    noise = torch.randn(2, 40, H, generator=torch.Generator().manual_seed(0))
    out = sample_latent(model, cond, 40, s, uncond=null, prompt_latent=known, keep=keep, noise=noise)
    torch.testing.assert_close(out[:, :, :10], known[:, :, :10], atol=1e-4, rtol=1e-4)
    free = sample_latent(model, cond, 40, s, uncond=null, noise=noise)
    assert not torch.allclose(out[:, :, :10], free[:, :, :10], atol=1e-2)
    assert not torch.allclose(out[:, :, 10:], free[:, :, 10:], atol=1e-4)  # the rest saw the kept frames
