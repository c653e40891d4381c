r"""The body of the Triton simulator step (:mod:`~prefdyn.numerics.kernels.cuda`), imported only
where Triton is installed.

:func:`step_body` is a plain function: :func:`~prefdyn.numerics.kernels.cuda.compile_step` makes
a copy of it per loss whose global ``dphi`` is that loss's compiled :math:`\phi'`, and
``triton.jit`` compiles the copy. Triton reads the parameters' ``tl.constexpr`` annotations, so
this module does not postpone annotations.
"""

from typing import Any

import triton
import triton.language as tl

dphi: Any = None  # replaced per loss in the copies that are compiled


@triton.jit
def exp(x):
    return tl.exp(x)


@triton.jit
def log(x):
    return tl.log(x)


@triton.jit
def sqrt(x):
    return tl.sqrt(x)


@triton.jit
def fabs(x):
    return tl.abs(x)


@triton.jit
def erf(x):
    return tl.math.erf(x)


@triton.jit
def where(condition, a, b):
    return tl.where(condition, a, b)


@triton.jit
def sigmoid(x):
    return tl.sigmoid(x)


@triton.jit
def logsigmoid(x):
    return tl.minimum(x, 0.0) - tl.log(1.0 + tl.exp(-tl.abs(x)))


@triton.jit
def ndtr(x):
    return 0.5 * (1.0 + tl.math.erf(x * 0.7071067811865476))


@triton.jit
def tanh(x):
    return 2.0 * tl.sigmoid(2.0 * x) - 1.0


@triton.jit
def cosh(x):
    return 0.5 * (tl.exp(x) + tl.exp(-x))


@triton.jit
def sinh(x):
    return 0.5 * (tl.exp(x) - tl.exp(-x))


@triton.jit
def power(x, p):
    return tl.exp(p * tl.log(x))


#: :data:`~prefdyn.numerics.kernels.scalar_code.VOCABULARY` as Triton functions, and ``tl``
#: (Triton looks for its language among a jit function's globals).
VOCABULARY = {"tl": tl} | {
    f.__name__: f for f in (exp, log, sqrt, fabs, erf, where, sigmoid, logsigmoid, ndtr, tanh, cosh, sinh, power)
}


def step_body(
    g_ptr,
    u_ptr,
    s_ptr,
    w_ptr,
    beta_ptr,
    a1_ptr,
    a2_ptr,
    part_ptr,
    n,
    d,
    tiles,
    K: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    CHUNKS: tl.constexpr,
):
    pid = tl.program_id(0)
    r = pid // tiles
    t = pid % tiles
    rows = t * BLOCK_N + tl.arange(0, BLOCK_N)
    in_rows = rows < n
    base = g_ptr + r.to(tl.int64) * n * d
    x1 = tl.zeros([BLOCK_N], dtype=tl.float32)
    x2 = tl.zeros([BLOCK_N], dtype=tl.float32)
    cols = tl.arange(0, BLOCK_D)
    if CHUNKS == 1:
        tile = tl.load(base + rows[:, None] * d + cols[None, :], mask=in_rows[:, None] & (cols[None, :] < d), other=0.0)
        tile = tile.to(tl.float32)
        x1 = tl.sum(tile * tl.load(u_ptr + r * K * d + cols, mask=cols < d, other=0.0)[None, :], axis=1)
        if K == 2:
            x2 = tl.sum(tile * tl.load(u_ptr + (r * K + 1) * d + cols, mask=cols < d, other=0.0)[None, :], axis=1)
    else:
        for chunk in range(CHUNKS):
            c0 = chunk * BLOCK_D + cols
            chunk = tl.load(
                base + rows[:, None] * d + c0[None, :], mask=in_rows[:, None] & (c0[None, :] < d), other=0.0
            )
            chunk = chunk.to(tl.float32)
            x1 += tl.sum(chunk * tl.load(u_ptr + r * K * d + c0, mask=c0 < d, other=0.0)[None, :], axis=1)
            if K == 2:
                x2 += tl.sum(chunk * tl.load(u_ptr + (r * K + 1) * d + c0, mask=c0 < d, other=0.0)[None, :], axis=1)
    if K == 1:
        x2 = -x1
    s = tl.load(s_ptr + r * n + rows, mask=in_rows, other=0.0)
    w = tl.load(w_ptr + r * n + rows, mask=in_rows, other=0.0)
    b = tl.load(beta_ptr + r)
    bs = b * s
    c = w * dphi(bs * (x1 - x2), b) * bs
    c = tl.where(in_rows, c, 0.0)
    tl.store(a1_ptr + r * n + rows, x1, mask=in_rows)
    tl.store(a2_ptr + r * n + rows, x2, mask=in_rows)
    out = part_ptr + (r.to(tl.int64) * tiles + t) * d
    if CHUNKS == 1:
        tl.store(out + cols, tl.sum(tile * c[:, None], axis=0), mask=cols < d)
    else:
        for chunk in range(CHUNKS):
            c0 = chunk * BLOCK_D + cols
            chunk = tl.load(
                base + rows[:, None] * d + c0[None, :], mask=in_rows[:, None] & (c0[None, :] < d), other=0.0
            )
            tl.store(out + c0, tl.sum(chunk.to(tl.float32) * c[:, None], axis=0), mask=c0 < d)
