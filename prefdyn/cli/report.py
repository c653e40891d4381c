"""``prefdyn report``: LaTeX theorems, tables and figures ready to ``\\input`` into a paper."""

from __future__ import annotations

import argparse
from typing import Any

from ._types import positive


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a paper-ready directory: main.tex, theorems, tables, figures, manifest",
        description=(
            "Derive and re-verify every theorem, simulate the scenario, draw theory against "
            "simulation, prioritisation, misalignment and distinguishability-vs-speed figures, "
            "and write main.tex (standalone), theorems.tex, tables/*.tex (booktabs), "
            "figures/*.pdf+png, macros.tex and manifest.json. Parts this installation cannot "
            "produce are skipped, and the document says why."
        ),
    )
    parser.add_argument("outdir", nargs="?", default="out", help="output directory (default: out/)")
    parser.add_argument("--scenario", help="scenario TOML file (default: the built-in scenario)")
    parser.add_argument("--persona", metavar="PATH",
                        help="persona-format JSONL file, folder or glob: adds the real-data sections")
    parser.add_argument("--examples", type=positive(int), default=20,
                        help="examples per theorem for `prefdyn verify` (default 20)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--benchmarks", metavar="JSON",
                        help="results of benchmarks/bench_simulator.py to tabulate")
    parser.add_argument("--theorem", action="append", metavar="ID",
                        help="include only this theorem (repeatable; default: the whole catalogue)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import glob
    from pathlib import Path

    from prefdyn.errors import require
    from prefdyn.numerics.simulator import resolve_device
    from prefdyn.verification.report import Options, build_report

    device = resolve_device(args.device).type
    # inputs the user named must exist before minutes of work (absent ones are skipped, and said)
    require(args.benchmarks is None or Path(args.benchmarks).is_file(), "--benchmarks",
            f"file not found: {args.benchmarks}")
    require(args.persona is None or bool(glob.glob(args.persona)), "--persona",
            f"nothing found at {args.persona}")
    if args.benchmarks is not None:
        from prefdyn.verification.report.sources import read_benchmarks

        read_benchmarks(args.benchmarks)  # a malformed file fails now, not after minutes of work
    options = Options(Path(args.outdir), args.scenario, args.persona, args.examples, device,
                      args.benchmarks, None if args.theorem is None else tuple(args.theorem))
    manifest = build_report(options)
    skipped = manifest["skipped"]
    print(f"wrote {len(manifest['files'])} files to {args.outdir}/ "
          f"in {manifest['timings_s']['total']:.0f} s (main.tex, manifest.json)")
    for part, reason in skipped.items():
        print(f"  skipped {part}: {reason}")
    return 0
