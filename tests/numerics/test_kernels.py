"""The compiled single-pass steps (numba on the CPU, Triton on CUDA) against the torch step."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from prefdyn.errors import PrefdynError
from prefdyn.numerics import PreferenceData, TrainConfig, simulate
from prefdyn.numerics.config import Phase
from prefdyn.numerics.evaluate import loss_kernels
from prefdyn.numerics.kernels import select_step
from prefdyn.numerics.kernels.scalar_code import define, dphi_source
from prefdyn.theory.losses import get_loss, loss_from_expression, loss_names

USER_LOSSES = {
    # a kinked loss with a power and a tanh (cosh in phi'); erf in phi'; a parameter and beta
    "kinked": ("Max(0, 1 - h)**2 + tanh(h)/3", {}),
    "erf": ("log(1 + exp(-h)) - h*erf(h)/4", {}),
    "tilted": ("log(1 + exp(-h)) + tau*h**2/beta", {"tau": 0.25}),
}


def all_losses():
    builtin = [get_loss(name) for name in loss_names()]
    return builtin + [loss_from_expression(text, params, name=name) for name, (text, params) in USER_LOSSES.items()]


def reference_step(loss, dtype, g, u, s, w, beta):
    """The torch step in float64 on the inputs rounded to ``dtype``: the logits, the gradient,
    its scale sum_i |c_i| |g_i|, and phi''s own relative rounding error in ``dtype`` at the
    step's margins (which the torch step in ``dtype`` has too, and which bounds the gradient
    error that evaluating phi' in ``dtype`` may add, relative to the scale)."""
    g, u, s, w, beta = (x.to(dtype).double() for x in (g, u, s, w, beta))
    p = u @ g.mT
    a1 = p[:, 0]
    a2 = p[:, 1] if u.shape[1] == 2 else -a1
    h = beta * s * (a1 - a2)
    dphi = loss_kernels(loss).dphi
    exact = dphi(h, beta)
    rounded = dphi(h.to(dtype), beta.to(dtype)).double()
    phi_error = float(((rounded - exact).abs() / exact.abs().clamp(min=1e-30)).max())
    c = exact * beta * s * w
    scale = (c.abs().unsqueeze(1) @ g.abs()).squeeze(1)
    return a1, a2, (c.unsqueeze(1) @ g).squeeze(1), scale, (u.abs() @ g.abs().mT).amax(), phi_error


def random_step(k: int, dtype: torch.dtype, runs=3, n=37, d=19, seed=0):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(runs, n, d, generator=gen, dtype=torch.float64).to(dtype)
    u = (0.15 * torch.randn(runs, k, d, generator=gen, dtype=torch.float64)).to(dtype)  # |h| of a few units
    s = torch.where(torch.rand(runs, n, generator=gen) < 0.5, -1.0, 1.0).to(dtype)
    w = (torch.rand(1, n, generator=gen, dtype=torch.float64) / n).to(dtype)
    beta = (0.5 + torch.rand(runs, 1, generator=gen, dtype=torch.float64)).to(dtype)
    return g, u, s, w, beta


@pytest.mark.parametrize("loss", all_losses(), ids=lambda loss: loss.name)
def test_printed_dphi_equals_the_lambdified_one(loss) -> None:
    # The printed source, run as plain Python over math, against SymPy's own lambdify to torch.
    namespace = {
        "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "tanh": math.tanh, "erf": math.erf,
        "cosh": math.cosh, "sinh": math.sinh,
        "fabs": math.fabs, "power": math.pow, "where": lambda c, a, b: a if c else b,
        "sigmoid": lambda x: 1 / (1 + math.exp(-x)), "logsigmoid": lambda x: -math.log1p(math.exp(-x)),
        "ndtr": lambda x: 0.5 * math.erfc(-x / math.sqrt(2)),
    }  # fmt: skip
    dphi = define(dphi_source(loss), namespace)
    hs = torch.linspace(-6, 6, 49, dtype=torch.float64)
    expected = loss_kernels(loss).dphi(hs, torch.tensor(0.7, dtype=torch.float64))
    got = torch.tensor([dphi(float(h), 0.7) for h in hs], dtype=torch.float64)
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("loss", all_losses(), ids=lambda loss: loss.name)
def test_cpu_fused_step_equals_the_step_in_float64(loss, k: int, dtype: torch.dtype, rtol: float) -> None:
    # Against the step evaluated in float64 on the same (rounded) inputs. Errors are
    # measured against the scale sum_i |c_i| |g_i| of the gradient's terms (the gradient itself
    # can cancel to ~0), and the logits against their own scale.
    pytest.importorskip("numba")
    g, u, s, w, beta = random_step(k, dtype)
    step = select_step(loss, g, dtype, "fused", steps=1)
    a1, a2, grad = step(g, u, s, w, beta)
    r1, r2, r_grad, scale, logit_scale, _ = reference_step(loss, dtype, g, u, s, w, beta)
    assert ((a1 - r1).abs().max() / logit_scale) <= rtol and ((a2 - r2).abs().max() / logit_scale) <= rtol
    assert ((grad - r_grad).abs() / scale).max() <= rtol  # numba evaluates phi' in float64


def test_fused_kernel_is_asked_for_where_it_cannot_run() -> None:
    g2 = torch.randn(10, 3, dtype=torch.float64)
    with pytest.raises(PrefdynError, match="kernel: no fused step here: data shared"):
        select_step(get_loss("dpo"), g2, torch.float64, "fused", steps=1)
    with pytest.raises(PrefdynError, match="kernel: must be one of auto, fused, torch"):
        select_step(get_loss("dpo"), g2, torch.float64, "numba", steps=1)
    g3 = torch.randn(2, 10, 3, dtype=torch.float64)
    assert select_step(get_loss("dpo"), g3, torch.float64, "auto", steps=1) is None  # too small to compile
    assert select_step(get_loss("dpo"), g3, torch.float64, "torch", steps=10**12) is None


TRITON_CHECK = textwrap.dedent(
    """
    import torch
    from prefdyn.numerics.kernels import cuda
    from prefdyn.theory.losses import get_loss
    from tests.numerics.test_kernels import all_losses, random_step, reference_step
    worst = 0.0
    for d in (19, 700):  # one column chunk, and several
        for loss in all_losses():
            for k in (1, 2):
                g, u, s, w, beta = random_step(k, torch.float32, d=d)
                a1, a2, grad = cuda.fused_step(cuda.compile_step(loss), g, u, s, w, beta)
                r1, r2, r_grad, scale, logit_scale, phi_error = reference_step(loss, torch.float32, g, u, s, w, beta)
                # Triton evaluates phi' in float32 with its own exp and log, a few ulps from
                # torch's: four times torch's float32 rounding error of phi' is allowed on top
                worst = max(worst, float((a1 - r1).abs().max() / logit_scale),
                            float((a2 - r2).abs().max() / logit_scale),
                            float(((grad - r_grad).abs() / scale).max()) - 4 * phi_error)
    print(worst)
    """
)


def test_triton_step_in_the_interpreter_equals_torch_step() -> None:
    # Triton's interpreter runs the kernel's own code on the CPU with numpy (no GPU needed).
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-c", TRITON_CHECK],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip()) <= 1e-6


def tiny_data(device: str, dtype: torch.dtype, runs=6, n=300, d=48) -> PreferenceData:
    gen = torch.Generator().manual_seed(3)
    s = torch.where(torch.rand(runs, n, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)
    g = torch.randn(runs, n, d, generator=gen, dtype=torch.float64) / d**0.5 + 0.3 * s.unsqueeze(-1) / d**0.5
    behavior = torch.arange(n) % 2
    train = torch.arange(n) % 5 != 0
    return PreferenceData(g.to(dtype), s.to(dtype), behavior, train, ("a", "b")).to(device, dtype)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("loss", ["dpo", "ipo", "hinge"])
def test_cuda_fused_run_matches_cpu(loss: str) -> None:
    # float32 on the GPU (fused Triton step, and the torch step) against float64 on the CPU: a
    # 40-step run's curves agree to 1e-4 absolute (accuracies, losses and margins are O(1)).
    config = TrainConfig(loss=loss, beta=0.5, learning_rate=0.5, batch_size=64, phases=(Phase("train", 40),))
    cpu = simulate(tiny_data("cpu", torch.float64), config, seed=1, kernel="torch")
    for kernel in ("fused", "torch"):
        gpu = simulate(tiny_data("cuda", torch.float32), config, seed=1, device="cuda", kernel=kernel)
        assert torch.allclose(gpu.curves, cpu.curves, rtol=0, atol=1e-4), kernel
        assert torch.allclose(gpu.rows, cpu.rows, rtol=1e-4, atol=1e-5), kernel
