"""The concrete softmax heads of instantiated checks."""

import sympy as sp

from prefdyn.theory.theorems._head import head, log_ratio_difference, log_softmax


def test_log_ratio_difference_is_the_log_softmax_difference() -> None:
    """The normaliser cancels: the logit form is the very expression of the log-softmax one."""
    W, R, g = head("W", 3, 2), head("R", 3, 2), head("g", 2, 1)
    for w, l in ((0, 1), (1, 0), (2, 0)):
        through_softmax = (log_softmax(W, g, w) - log_softmax(W, g, l)) - (log_softmax(R, g, w) - log_softmax(R, g, l))
        assert log_ratio_difference(W, R, g, w, l) == through_softmax
        assert not through_softmax.has(sp.log)
