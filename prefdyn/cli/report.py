"""``prefdyn report``: LaTeX theorems, tables and figures ready to ``\\input`` into a paper."""

from __future__ import annotations

import argparse
from typing import Any

from ._types import add_threads_option, number, positive


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
    parser.add_argument(
        "--persona", metavar="PATH", help="persona-format JSONL file, folder or glob: adds the real-data sections"
    )
    parser.add_argument(
        "--examples", type=positive(int), default=20, help="examples per theorem for `prefdyn verify` (default 20)"
    )
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--benchmarks", metavar="JSON", help="results of benchmarks/bench_simulator.py to tabulate")
    parser.add_argument("--sweep", metavar="DIR", help="a finished `prefdyn sweep --out DIR`: its phase diagrams")
    parser.add_argument(
        "--theorem",
        action="append",
        metavar="ID",
        help="include only this theorem (repeatable; default: the whole catalogue)",
    )
    add_threads_option(parser)
    persona = parser.add_argument_group(
        "real-data section (with --persona; defaults: the paper's last-layer settings, under "
        "which DPO losses move by about 1e-5 -- raise --persona-beta / --persona-lr to see them move)"
    )
    persona.add_argument(
        "--persona-behaviors", nargs="+", metavar="NAME", help="behaviours (file stems) to use (default: all)"
    )
    persona.add_argument("--persona-beta", type=positive(float), help="beta (default 0.01)")
    persona.add_argument(
        "--persona-lr",
        "--persona-learning-rate",
        dest="persona_lr",
        type=positive(float),
        help="learning rate (default 0.1)",
    )
    persona.add_argument("--persona-steps", type=positive(int), help="training steps (default 100)")
    persona.add_argument(
        "--persona-batch-size", type=number(int, minimum=0), help="batch size, 0 = full batch (default 128)"
    )
    parser.set_defaults(func=run)


#: ``--persona-*`` flag -> TrainSettings field
PERSONA_SETTINGS = {
    "persona_beta": "beta",
    "persona_lr": "learning_rate",
    "persona_steps": "steps",
    "persona_batch_size": "batch_size",
}


def _where(outdir: str) -> str:
    """The output folder as the user named it, with exactly one trailing slash."""
    from pathlib import Path

    return Path(outdir).as_posix().rstrip("/") + "/"


def run(args: argparse.Namespace) -> int:
    import glob
    from pathlib import Path

    from prefdyn.errors import require
    from prefdyn.numerics.simulator import resolve_device
    from prefdyn.reporting import Options, build_report

    device = resolve_device(args.device).type
    # inputs the user named must exist before minutes of work (absent ones are skipped, and said)
    require(
        args.benchmarks is None or Path(args.benchmarks).is_file(), "--benchmarks", f"file not found: {args.benchmarks}"
    )
    require(args.persona is None or bool(glob.glob(args.persona)), "--persona", f"nothing found at {args.persona}")
    if args.benchmarks is not None:
        from prefdyn.reporting.sources import read_benchmarks

        read_benchmarks(args.benchmarks)  # a malformed file fails now, not after minutes of work
    if args.sweep is not None:
        from prefdyn.numerics.sweep.store import read_finished

        read_finished(args.sweep, "--sweep")  # a folder that is not a finished sweep fails now
    settings = {
        field: getattr(args, flag) for flag, field in PERSONA_SETTINGS.items() if getattr(args, flag) is not None
    }
    given = [
        f"--{flag.replace('_', '-')}"
        for flag in (*PERSONA_SETTINGS, "persona_behaviors")
        if getattr(args, flag) is not None
    ]
    require(
        args.persona is not None or not given,
        " ".join(given),
        "needs --persona PATH (the real-data section it configures)",
    )
    from prefdyn.numerics.scenario import default_scenario, load_scenario
    from prefdyn.threads import configure_threads, simulation_work

    scenario = default_scenario() if args.scenario is None else load_scenario(args.scenario)
    threads = configure_threads(args.threads, work=simulation_work(scenario.runs, scenario.samples, scenario.dim))
    options = Options(
        Path(args.outdir),
        args.scenario,
        args.persona,
        args.examples,
        device,
        args.benchmarks,
        None if args.theorem is None else tuple(args.theorem),
        persona_behaviors=None if args.persona_behaviors is None else tuple(args.persona_behaviors),
        persona_settings=settings,
        threads=args.threads,
        sweep=args.sweep,
    )
    manifest = build_report(options)
    skipped = manifest["skipped"]
    print(
        f"wrote {len(manifest['files'])} files to {_where(args.outdir)} "
        f"in {manifest['timings_s']['total']:.0f} s with {threads} thread(s) (main.tex, manifest.json)"
    )
    for part, reason in skipped.items():
        print(f"  skipped {part}: {reason}")
    return 0
