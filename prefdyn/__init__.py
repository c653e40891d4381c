"""prefdyn: the learning dynamics of preference alignment.

The package is one import name over rooms by role:

* :mod:`prefdyn.theory` (``theory/``): the symbolic layer. SymPy only; never imports torch.
* :mod:`prefdyn.numerics` (``numerics/``): tensors. Theory evaluated on torch, synthetic
  sampling and real-data sources, batched simulation, the population-flow prediction.
* :mod:`prefdyn.verification` (``verification/``): theorems and conjectures against simulation
  with Hypothesis.
* :mod:`prefdyn.studies`: the paper's real-data experiments on an embedded persona corpus.
* :mod:`prefdyn.reporting`: the paper-ready LaTeX directory.
* :mod:`prefdyn.cli`: the ``prefdyn`` command.

Dependencies point one way: ``cli -> reporting -> {verification, studies} -> numerics -> theory``.

The functions below are the public entry points; they import their layer on first use, so
``import prefdyn`` stays fast and loads neither SymPy nor torch.

>>> import prefdyn as pd
>>> pd.loss("ipo").name
'ipo'
>>> "update-rate" in pd.theorems()
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from prefdyn.numerics.predict import Prediction
    from prefdyn.numerics.scenario import Scenario
    from prefdyn.numerics.simulator import SimulationResult
    from prefdyn.numerics.sweep import SweepOutcome
    from prefdyn.theory.framework import Theorem
    from prefdyn.theory.losses import Loss
    from prefdyn.verification.runner import Report

from prefdyn._lazy import lazy_attributes
from prefdyn._version import __version__

__all__ = [
    "Scenario",
    "__version__",
    "load_scenario",
    "loss",
    "plot_curves",
    "plot_persona_curves",
    "predict",
    "report",
    "simulate",
    "sweep",
    "theorem",
    "theorems",
    "verify",
]

#: Public names defined in a layer, imported on first use (they bring torch or matplotlib).
_LAZY = {
    "Scenario": "prefdyn.numerics.scenario",
    "plot_curves": "prefdyn.numerics.plotting",
    "plot_persona_curves": "prefdyn.studies.figures",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


def loss(spec: str, **params: float) -> Loss:
    r"""A margin loss :math:`\phi(h)`: a registered one by name, or a user expression.

    Parameters
    ----------
    spec
        A registered name (``dpo``, ``ipo``, ``cdpo``, ``rdpo``, ``hinge``, ``exo-pair``,
        ``discopop``) or an expression in the margin ``h``, ``beta`` and the names of
        ``params`` (parsed by a whitelisting parser, never evaluated).
    **params
        Named parameters of an expression and their values.

    Returns
    -------
    Loss
        With SymPy-derived :math:`\phi'`, :math:`\phi''`, :math:`\phi'(0)` and certified
        constants (``sup_abs_dphi``, ``smoothness``, ``stationary_margin``).

    Examples
    --------
    >>> import prefdyn as pd
    >>> pd.loss("dpo").dphi_at_zero
    -1/2
    >>> pd.loss("(h - gamma)**2", gamma=0.5).stationary_margin
    1/2
    """
    from prefdyn.theory.losses import get_loss, loss_from_expression, loss_names

    if spec in loss_names():
        if params:
            raise TypeError(f"loss {spec!r} is registered and takes no parameters")
        return get_loss(spec)
    return loss_from_expression(spec, params)


def theorem(theorem_id: str, loss: str | Loss = "dpo") -> Theorem:
    """The catalogue theorem ``theorem_id`` built for ``loss`` (a name or a :class:`Loss`).

    Parameters
    ----------
    theorem_id
        One of :func:`theorems`.
    loss
        The margin loss the statement is built for.

    Returns
    -------
    Theorem
        ``.check()`` verifies every printed step; ``.latex()`` gives the theorem and proof block.

    Examples
    --------
    >>> import prefdyn as pd
    >>> t = pd.theorem("dpo-gradient", loss="ipo")
    >>> t.check().passed
    True
    >>> t.latex().startswith(r"\\begin{theorem}")
    True
    """
    from prefdyn.theory.catalogue import get_theorem

    return get_theorem(theorem_id, loss)


def theorems() -> list[str]:
    """Ids of the catalogue's theorems, in catalogue order.

    Returns
    -------
    list of str
        The ids :func:`theorem` and :func:`verify` accept.

    Examples
    --------
    >>> import prefdyn as pd
    >>> pd.theorems()[0]
    'dpo-gradient'
    """
    from prefdyn.theory.catalogue import theorem_ids

    return theorem_ids()


def load_scenario(path: str | Path | None = None) -> Scenario:
    """A simulation scenario from a TOML file, or the built-in default when ``path`` is ``None``.

    Parameters
    ----------
    path
        A scenario file (``prefdyn scenario`` prints a commented template).

    Returns
    -------
    Scenario
        Behaviours (mixture weights, class means and covariances, label noise) and training
        settings (loss, beta, learning rate, optimizer, phases, runs, seed).

    Examples
    --------
    >>> import prefdyn as pd
    >>> len(pd.load_scenario().behaviors)
    4
    """
    from prefdyn.numerics.scenario import default_scenario
    from prefdyn.numerics.scenario import load_scenario as load

    return default_scenario() if path is None else load(path)


def simulate(
    scenario: Scenario, runs: int | None = None, seed: int | None = None, device: str | None = "cpu"
) -> SimulationResult:
    """Batched simulated training of ``runs`` independent runs of ``scenario``.

    Parameters
    ----------
    scenario
        From :func:`load_scenario`.
    runs, seed
        Default to the scenario's ``[training]`` table.
    device
        ``"cpu"``, ``"cuda"`` or ``None`` (CUDA when present).

    Returns
    -------
    SimulationResult
        Curves per run; ``.summary()`` gives mean and standard deviation across runs.

    Examples
    --------
    >>> import prefdyn as pd
    >>> result = pd.simulate(pd.load_scenario(), runs=2, seed=0)
    >>> sorted(result.summary())[:2]
    ['behaviors', 'phases']
    """
    from prefdyn.numerics.runner import run_scenario

    return run_scenario(scenario, runs=runs, seed=seed, device=device)


def sweep(
    path: str | Path,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    workers: int = 1,
    cluster: str | None = None,
) -> SweepOutcome:
    """Run the sweep file at ``path``: every cell's simulation, prediction and bounds, one table.

    Parameters
    ----------
    path
        A sweep file (:mod:`prefdyn.numerics.sweep.plan`: a base scenario and the axes to vary).
    out
        An output folder for the tables, the phase diagrams and the finished units (resumable);
        ``None`` keeps everything in memory.
    resume
        Reuse the finished units in ``out``.
    workers
        Local worker processes.
    cluster
        A Ray address (``ray://HOST:PORT``, ``auto``, ``local:N``); needs ``prefdyn[cluster]``.

    Returns
    -------
    SweepOutcome
        ``.table``: one row per cell x source x metric x split x behaviour x step, with the cell's
        axis values as columns; ``.cells``: one row per cell.

    Examples
    --------
    >>> import prefdyn as pd, tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "sweep.toml"
    ...     _ = path.write_text('[sweep]\\nscenario = "builtin:default"\\nruns = 2\\n'
    ...                         '[[axes]]\\nfield = "training.loss"\\nvalues = ["dpo", "ipo"]\\n')
    ...     outcome = pd.sweep(path)
    >>> outcome.cells["training.loss"].tolist()
    ['dpo', 'ipo']
    """
    from prefdyn.numerics.sweep import load_sweep, run_sweep

    return run_sweep(load_sweep(path), out=out, resume=resume, workers=workers, cluster=cluster)


def predict(scenario: Scenario, threads: int | None = None) -> Prediction:
    r"""The theory's curves for ``scenario``: population gradient descent on its Gaussian mixture.

    Parameters
    ----------
    scenario
        From :func:`load_scenario`.
    threads
        torch intra-op threads (``None``: :func:`prefdyn.threads.configure_threads`' policy).

    Returns
    -------
    Prediction
        ``.summary()`` has the shape of a simulation's summary, so the two compare key by key;
        ``.to_frame()`` gives the same tidy table as :meth:`SimulationResult.to_frame`.

    Examples
    --------
    >>> import prefdyn as pd
    >>> scenario = pd.load_scenario()
    >>> prediction = pd.predict(scenario)
    >>> [b["name"] for b in prediction.summary()["behaviors"]] == [b.name for b in scenario.behaviors]
    True
    >>> list(prediction.to_frame().columns)
    ['metric', 'split', 'step', 'behavior', 'mean', 'std']
    """
    from prefdyn.numerics.predict import predict as run

    return run(scenario, threads=threads)


def verify(
    what: str | Path, examples: int = 100, seed: int = 0, device: str = "cpu", out: str | Path | None = None
) -> Report:
    """Search simulated training for a counterexample to a theorem or a conjecture (Hypothesis).

    Parameters
    ----------
    what
        A theorem id (one of :func:`theorems`) or the path of a conjecture TOML file.
    examples
        Hypothesis examples to draw (each a scenario, simulated).
    seed
        Hypothesis seed: the same seed draws the same examples.
    device
        ``"cpu"`` or ``"cuda"``.
    out
        Folder for the shrunk counterexample's scenario file (written only when one is found).

    Returns
    -------
    Report
        ``passed``, ``max_violation``, ``tightness``, ``counterexample`` (a file name or ``None``).

    Examples
    --------
    >>> import prefdyn as pd
    >>> report = pd.verify("dpo-gradient", examples=3)
    >>> report.passed, report.examples
    (True, 3)
    """
    from pathlib import Path

    from prefdyn.theory.catalogue import theorem_ids
    from prefdyn.verification import check_conjecture, check_theorem, load_conjecture

    folder = None if out is None else Path(out)
    if isinstance(what, str) and what in theorem_ids():
        return check_theorem(what, examples=examples, seed=seed, device=device, out=folder)
    return check_conjecture(load_conjecture(what), examples=examples, seed=seed, device=device, out=folder)


def report(
    out: str | Path,
    scenario: str | Path | None = None,
    persona: str | Path | None = None,
    theorems: list[str] | None = None,
    examples: int = 20,
    device: str = "cpu",
) -> dict[str, object]:
    """Write the paper-ready directory (``main.tex``, theorem blocks, tables, figures, manifest).

    Parameters
    ----------
    out
        The output folder. It is built aside and swapped in whole; a second writer is refused.
    scenario
        A scenario TOML file (``None``: the built-in scenario).
    persona
        A persona-format data set for the real-data sections (``None``: those sections are
        skipped, and the manifest says why).
    theorems
        Theorem ids to include (``None``: all).
    examples
        Hypothesis examples per theorem in the verification table.
    device
        ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    dict
        The manifest (also written as ``manifest.json``): each section's status, and why any
        was skipped.

    Examples
    --------
    >>> import tempfile
    >>> import prefdyn as pd
    >>> out = tempfile.mkdtemp()
    >>> manifest = pd.report(out, theorems=["dpo-gradient"], examples=2)
    >>> manifest["sections"]["theorems"], manifest["sections"]["persona"]
    ('included', 'skipped')
    >>> manifest["skipped"]["persona"]
    'no persona data given (pass `--persona PATH`)'
    """
    from pathlib import Path

    from prefdyn.reporting import Options, build_report

    return build_report(
        Options(
            Path(out),
            scenario=None if scenario is None else str(scenario),
            persona=None if persona is None else str(persona),
            theorems=None if theorems is None else tuple(theorems),
            examples=examples,
            device=device,
            progress=False,
        )
    )
