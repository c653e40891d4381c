"""``dpo-gradient`` and ``update-rate`` against torch: autograd through a real V-way log-softmax,
and a seeded Monte-Carlo average of real GD steps.

The formulas evaluated here are the theorems' own SymPy statements (substituted and lambdified),
never re-typed: a wrong statement fails these tests.
"""

import itertools

import numpy as np
import pytest
import sympy as sp
import torch

from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import numpy_functions
from prefdyn.theory.losses import get_loss
from prefdyn.theory.symbols import beta, eta, h, n
from prefdyn.theory.theorems import dpo_gradient as G
from prefdyn.theory.theorems import update_rate as U

F64 = torch.float64


def _torch_phi(loss):
    """phi(h) as a torch function via SymPy (special functions -> stable torch kernels)."""
    expr = loss.bind(loss.phi).subs(beta, sp.Symbol("BETA"))
    return sp.lambdify([h, sp.Symbol("BETA")], expr, modules="torch")


def _rho(W, W_ref, g, w, l):
    lp, lr = torch.log_softmax(W @ g, -1), torch.log_softmax(W_ref @ g, -1)
    return (lp[..., w] - lp[..., l]) - (lr[..., w] - lr[..., l])


@pytest.mark.parametrize("V", [2, 7, 50])
@pytest.mark.parametrize("loss_name", ["dpo", "ipo", "cdpo", "hinge", "discopop"])
def test_gradient_matches_autograd(V, loss_name):
    loss = get_loss(loss_name)
    theorem = get_theorem("dpo-gradient", loss)
    rhs = theorem.claims[1].rhs  # the loss-specific statement
    g_j = sp.Symbol("g_j", real=True)
    args = [h, beta, g_j, G.i, G.y_w, G.y_l]
    formula = sp.lambdify(args, rhs.xreplace({G.g[G.j]: g_j}), modules=[numpy_functions(), "numpy"])
    phi = _torch_phi(loss)
    gen = torch.Generator().manual_seed(V)
    d, b = 5, 0.8
    for trial in range(3):
        W = torch.randn(V, d, generator=gen, dtype=F64, requires_grad=True)
        W_ref, g = torch.randn(V, d, generator=gen, dtype=F64), torch.randn(d, generator=gen, dtype=F64)
        w, l = torch.randperm(V, generator=gen)[:2].tolist()
        rho = _rho(W, W_ref, g, w, l)
        phi(b * rho, torch.tensor(b, dtype=F64)).backward()
        expected = np.array(
            [[formula(b * rho.item(), b, g[j].item(), i + 1, w + 1, l + 1) for j in range(d)] for i in range(V)]
        )
        np.testing.assert_allclose(W.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


def _indexed_values(K, d, p, q, eps, mu_p, mu_m):
    values = {}
    for b in range(K):
        values[U.p[b + 1]] = p[b]
        values[U.q[b + 1]] = q[b]
        values[U.eps[b + 1]] = eps[b]
        for j in range(d):
            values[U.mu_p[b + 1, j]] = mu_p[b][j]
            values[U.mu_m[b + 1, j]] = mu_m[b][j]
    return values


def test_first_step_matches_monte_carlo():
    """E[dW_1] (claim 'first step') vs the mean of N real per-sample autograd GD steps.

    Tolerance: each entry of the Monte-Carlo mean has standard error s/sqrt(N) (s: the sample
    std of that entry over the N per-sample steps). We allow 5.5 standard errors: under the CLT
    the two-sided false-alarm probability is 3.8e-8 per entry, < 1e-6 over the V*d = 12 entries
    (Bonferroni)."""
    loss = get_loss("dpo")
    K, V, d, N = 2, 3, 4, 40_000
    gen = torch.Generator().manual_seed(7)
    p, q, eps = [0.3, 0.7], [0.35, 0.6], [0.1, 0.0]
    mu_p = [torch.randn(d, generator=gen, dtype=F64) for _ in range(K)]
    mu_m = [torch.randn(d, generator=gen, dtype=F64) for _ in range(K)]
    lr, b_val = 0.5, 0.9
    behavior = torch.multinomial(torch.tensor(p, dtype=F64), N, replacement=True, generator=gen)
    true_pos = torch.rand(N, generator=gen, dtype=F64) < torch.tensor(q, dtype=F64)[behavior]
    flip = torch.rand(N, generator=gen, dtype=F64) < torch.tensor(eps, dtype=F64)[behavior]
    s = torch.where(true_pos ^ flip, 1.0, -1.0).to(F64)
    means = torch.stack([torch.stack(mu_p), torch.stack(mu_m)])  # [2, K, d]
    g = means[(~true_pos).long(), behavior] + 0.7 * torch.randn(N, d, generator=gen, dtype=F64)
    W_ref = torch.randn(V, d, generator=gen, dtype=F64)
    phi = _torch_phi(loss)

    e12 = torch.tensor([1.0, -1.0, 0.0], dtype=F64)

    def sample_loss(W, g_i, s_i):
        # e_{y_w} - e_{y_l} = s (e_1 - e_2): responses 1 and 2, preferred one first when s = +1
        lp, lr_ = torch.log_softmax(W @ g_i, -1), torch.log_softmax(W_ref @ g_i, -1)
        rho = (s_i * e12) @ (lp - lr_)
        return phi(b_val * rho, torch.tensor(b_val, dtype=F64))

    grads = torch.func.vmap(torch.func.grad(sample_loss), in_dims=(None, 0, 0))(W_ref.clone(), g, s)
    steps = -lr * grads  # [N, V, d]
    mc_mean, mc_se = steps.mean(0), steps.std(0) / N**0.5

    rhs = get_theorem("update-rate", loss).claim("first step").rhs.subs(U.K, K).doit()
    values = _indexed_values(K, d, p, q, eps, [m.tolist() for m in mu_p], [m.tolist() for m in mu_m])
    for i, j in itertools.product(range(V), range(d)):
        expected = float(rhs.subs({U.i_: i + 1, U.j_: j, eta: lr, beta: b_val}).subs(values))
        tol = 5.5 * float(mc_se[i, j]) + 1e-12
        assert abs(float(mc_mean[i, j]) - expected) <= tol, (i, j, float(mc_mean[i, j]), expected)
    assert torch.all(mc_mean[2].abs() < 1e-12)  # only rows 1 and 2 move


def test_finite_n_self_term_matches_simulation():
    """Mean margin of behaviour b after one full-batch GD step on a stratified training set.

    M independent training sets of n = 6 (counts 4, 2) each take one real autograd step on a
    V = 2 head from W_ref = 0. Tolerance: 5.5 standard errors of the mean over M sets per
    behaviour (false alarm < 1e-7 for the two behaviours together)."""
    loss = get_loss("dpo")
    counts, d, M, lr, b_val = (4, 2), 3, 20_000, 0.3, 1.3
    size = sum(counts)
    gen = torch.Generator().manual_seed(11)
    q = [0.7, 0.4]
    mu_p = torch.tensor([[1.0, 0.5, 0.0], [0.0, -1.0, 0.5]], dtype=F64)
    mu_m = torch.tensor([[-0.5, 0.2, 0.3], [0.4, 0.0, -0.6]], dtype=F64)
    noise = 0.8
    behavior = torch.tensor([b for b, c in enumerate(counts) for _ in range(c)])
    pos = torch.rand(M, size, generator=gen, dtype=F64) < torch.tensor(q, dtype=F64)[behavior]
    s = torch.where(pos, 1.0, -1.0).to(F64)
    g = torch.where(pos[..., None], mu_p[behavior], mu_m[behavior]) + noise * torch.randn(
        M, size, d, generator=gen, dtype=F64
    )
    W = torch.zeros(M, 2, d, dtype=F64, requires_grad=True)
    phi = _torch_phi(loss)
    e12 = torch.tensor([1.0, -1.0], dtype=F64)

    def margins(W):
        rho = s * torch.einsum("v,mvd,mnd->mn", e12, W, g)  # log-softmax normaliser cancels (V = 2)
        return b_val * rho

    phi(margins(W), torch.tensor(b_val, dtype=F64)).mean(1).sum().backward()
    with torch.no_grad():
        h1 = margins(W - lr * W.grad)
    statement = get_theorem("update-rate", loss).claim("finite-n self-term").rhs
    for b in range(len(counts)):
        per_set = h1[:, behavior == b].mean(1)
        m = [q[c] * mu_p[c] - (1 - q[c]) * mu_m[c] for c in range(len(counts))]
        second = q[b] * (mu_p[b] @ mu_p[b]) + (1 - q[b]) * (mu_m[b] @ mu_m[b]) + d * noise**2
        values = {U.p[c + 1]: sp.Rational(counts[c], size) for c in range(len(counts))}
        values.update({U.Omega[c + 1, b + 1]: float(m[c] @ m[b]) for c in range(len(counts))})
        values[U.S[b + 1]] = float(second)
        expected = float(
            statement.subs(U.K, len(counts)).doit().subs(U.b_, b + 1).subs(values).subs({eta: lr, beta: b_val, n: size})
        )
        se = float(per_set.std()) / M**0.5
        assert abs(float(per_set.mean()) - expected) <= 5.5 * se, (b, float(per_set.mean()), expected, se)
