"""A wall-clock limit for SymPy calls that may not terminate (``solveset``, ``simplify``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def run_with_time_limit(seconds: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn(*args, **kwargs)``; raise :class:`TimeoutError` after ``seconds``.

    Uses ``SIGALRM`` on the main thread of a POSIX process; elsewhere the call runs unbounded.
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return fn(*args, **kwargs)

    def _expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"{getattr(fn, '__name__', 'call')} exceeded {seconds} s")

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
