"""The built-in theorems, one module each; :mod:`prefdyn.theory.catalogue` indexes them."""
