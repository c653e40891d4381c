"""prefdyn.theory: the symbolic layer (SymPy only; never imports torch)."""
