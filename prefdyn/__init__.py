"""prefdyn: the learning dynamics of preference alignment.

The package is one import name over three top-level folders of the repository:

* :mod:`prefdyn.theory` (``theory/``): the symbolic layer. SymPy only; never imports torch.
* :mod:`prefdyn.numerics` (``numerics/``): tensors. Theory evaluated on torch, sampling,
  batched simulation, real data.
* :mod:`prefdyn.verification` (``verification/``): theorems against simulation with Hypothesis.

Dependencies point one way: ``verification -> numerics -> theory``.
"""

__version__ = "0.1.0"
