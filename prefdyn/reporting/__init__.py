"""``prefdyn report``: a directory of LaTeX, tables and figures to ``\\input`` into a paper.

Modules: :mod:`.latex` (messages, numbers, figures, macros, preamble; text escaping and booktabs
tables are the shared :mod:`prefdyn.tables`'), :mod:`.theorems` (theorem blocks laid out for a
page), :mod:`.figures` (matplotlib in :mod:`prefdyn.numerics.plotting`'s style, deterministic
PDF/PNG), :mod:`.variants` (scenarios derived from the user's), :mod:`.sources` (gathering each
part by calling the library, in process), :mod:`.tables`, :mod:`.document` (the ``.tex`` files)
and :mod:`.build` (orchestration, progress, manifest).

Example
-------
>>> from pathlib import Path
>>> from prefdyn.reporting import Options, build_report
>>> manifest = build_report(Options(Path("out")))  # doctest: +SKIP
>>> sorted(manifest["sections"])  # doctest: +SKIP
['benchmarks', 'misalignment', 'persona', 'prioritisation', 'simulation', 'speed', ...]
"""

from .build import Options, build_report

__all__ = ["Options", "build_report"]
