r"""Running work on a Ray cluster: the optional extra ``prefdyn[cluster]``.

Every command that can outgrow one machine (``sweep``, ``persona embed``, ``verify``) takes
``--cluster ADDRESS`` and reaches Ray only through :func:`connect`:

* ``ray://HOST:PORT``: a remote cluster through the Ray client;
* ``auto``: the cluster named by the ``RAY_ADDRESS`` environment variable (what a job submitted
  to a running cluster sees);
* ``local`` or ``local:N``: a private Ray instance on this machine with ``N`` CPUs (default: the
  usable cores), started here and shut down on exit. It exercises exactly the code a cluster
  runs, which is what the tests and the benchmarks use.

Results always travel back to the driver, which alone writes files: a worker never touches the
output folder, so a retried task cannot write a result twice.

Examples
--------
>>> parse_address("ray://head.example:10001")
'ray://head.example:10001'
>>> parse_address("local:2")
'local:2'
>>> parse_address("http://x")
Traceback (most recent call last):
...
prefdyn.errors.PrefdynError: cluster: must be ray://HOST:PORT, auto, local or local:N, not 'http://x'
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from prefdyn.errors import PrefdynError, require

#: What ``pip`` needs to run with ``--cluster``.
EXTRA = "pip install 'prefdyn[cluster]'"

_REMOTE = re.compile(r"ray://[A-Za-z0-9.\-\[\]:]+:\d{1,5}")
_LOCAL = re.compile(r"local(?::([1-9]\d{0,3}))?")


def parse_address(text: str, field: str = "cluster") -> str:
    """``text`` checked against the address forms of the module docstring.

    Parameters
    ----------
    text : str
        The ``--cluster`` value.
    field : str
        The field an error names.

    Returns
    -------
    str
        ``text`` unchanged.

    Raises
    ------
    PrefdynError
        Any other form.

    Examples
    --------
    >>> parse_address("auto")
    'auto'
    """
    ok = text == "auto" or _REMOTE.fullmatch(text) or _LOCAL.fullmatch(text)
    require(bool(ok), field, f"must be ray://HOST:PORT, auto, local or local:N, not {text!r}")
    return text


def available() -> bool:
    """Whether Ray can be imported (the ``cluster`` extra is installed).

    Returns
    -------
    bool
        ``True`` when ``import ray`` succeeds.

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def connect(address: str, field: str = "cluster") -> Iterator[ModuleType]:
    """Connect to the Ray cluster at ``address`` for the duration of the ``with`` block.

    Parameters
    ----------
    address : str
        One of the forms of :func:`parse_address`.
    field : str
        The field an error names.

    Yields
    ------
    module
        The ``ray`` module, initialised; it is shut down when the block ends.

    Raises
    ------
    PrefdynError
        Ray is not installed, ``auto`` without ``RAY_ADDRESS``, or the cluster cannot be reached.

    Examples
    --------
    >>> with connect("local:1") as ray:  # doctest: +SKIP
    ...     ray.get(ray.remote(lambda: 1).remote())
    1
    """
    parse_address(address, field)
    if not available():
        raise PrefdynError(f"{field}: Ray is not installed; {EXTRA}")
    import ray

    options: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False, "configure_logging": False}
    local = _LOCAL.fullmatch(address)
    if local:
        from prefdyn.threads import usable_cores

        options["num_cpus"] = int(local.group(1) or usable_cores())
        target: str | None = "local"
    elif address == "auto":
        require(bool(os.environ.get("RAY_ADDRESS")), field, "auto needs the RAY_ADDRESS environment variable")
        target = "auto"
    else:
        target = address
        del options["include_dashboard"]  # the client does not start a dashboard
    try:
        ray.init(address=target, **options)
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as err:
        raise PrefdynError(f"{field}: cannot reach the Ray cluster at {address} ({str(err).splitlines()[0]})") from None
    try:
        yield ray
    finally:
        ray.shutdown()
