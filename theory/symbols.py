r"""Shared SymPy symbols (the DESIGN notation).

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
"""

import sympy as sp

h = sp.Symbol("h", real=True)
rho = sp.Symbol("rho", real=True)
beta = sp.Symbol("beta", positive=True)
eta = sp.Symbol("eta", positive=True)
t = sp.Symbol("t", positive=True, integer=True)
n = sp.Symbol("n", positive=True, integer=True)
