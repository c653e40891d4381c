r"""Shared SymPy symbols and their meanings.

===========  ==========================================================
symbol       meaning
===========  ==========================================================
``h``        implicit-reward margin :math:`h = \beta\rho`
``rho``      log-ratio difference :math:`\rho`
``beta``     DPO temperature :math:`\beta > 0`
``eta``      learning rate :math:`\eta > 0`
``t``        step count
``n``        training-set size
===========  ==========================================================

:data:`NOTATION` gives each a one-line meaning; a theorem's ``notation`` (its "where" clause)
starts from :func:`meanings` of the shared symbols it uses and adds its own.
"""

from collections.abc import Mapping

import sympy as sp

h = sp.Symbol("h", real=True)
rho = sp.Symbol("rho", real=True)
beta = sp.Symbol("beta", positive=True)
eta = sp.Symbol("eta", positive=True)
t = sp.Symbol("t", positive=True, integer=True)
n = sp.Symbol("n", positive=True, integer=True)

#: Meanings of the shared symbols (LaTeX prose).
NOTATION: Mapping[sp.Basic, str] = {
    h: r"is the implicit-reward margin $h = \beta\rho$",
    rho: r"is the log-ratio difference $\rho = \log\frac{\pi_W(y_w\mid x)}{\pi_{W_{\mathrm{ref}}}(y_w\mid x)} - "
    r"\log\frac{\pi_W(y_l\mid x)}{\pi_{W_{\mathrm{ref}}}(y_l\mid x)}$",
    beta: r"is the temperature $\beta > 0$",
    eta: r"is the learning rate $\eta > 0$",
    t: r"is the number of gradient steps",
    n: r"is the training-set size",
}


def meanings(*symbols: sp.Basic) -> dict[sp.Basic, str]:
    """The shared meanings of ``symbols`` (a dict for a theorem's ``notation``)."""
    return {s: NOTATION[s] for s in symbols}
