"""`prefdyn report` end to end on a tiny scenario: structure, determinism, pdflatex.

Two reports are built in separate processes with different hash seeds (so set/dict ordering
cannot leak into the output); one theorem keeps it fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: The shared tiny scenario (two behaviours, 12 steps, 2 runs).
TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"

#: Control words the report may use that LaTeX, amsmath/amssymb/amsthm, booktabs, graphicx or
#: hyperref define (anything else must be defined by macros.tex or main.tex).
STANDARD = {
    "begin",
    "end",
    "documentclass",
    "usepackage",
    "title",
    "author",
    "date",
    "maketitle",
    "section",
    "input",
    "label",
    "ref",
    "eqref",
    "caption",
    "centering",
    "includegraphics",
    "small",
    "footnotesize",
    "par",
    "smallskip",
    "parbox",
    "linewidth",
    "toprule",
    "midrule",
    "bottomrule",
    "texttt",
    "textbf",
    "emph",
    "item",
    "noindent",
    "quad",
    "qquad",
    "notag",
    "text",
    "frac",
    "sqrt",
    "sum",
    "left",
    "right",
    "partial",
    "log",
    "beta",
    "delta",
    "phi",
    "pi",
    "sigma",
    "rho",
    "eta",
    "mu",
    "epsilon",
    "Delta",
    "Sigma",
    "Gamma",
    "mathbb",
    "mathrm",
    "operatorname",
    "top",
    "le",
    "ge",
    "in",
    "mid",
    "times",
    "infty",
    "cdot",
    "pm",
    "propto",
    "allowdisplaybreaks",
    "begingroup",
    "endgroup",
    "raggedright",
    "textless",
    "textgreater",
    "textasciitilde",
    "textasciicircum",
    "textbackslash",
    "char",
    "providecommand",
    "newcommand",
    "makeatletter",
    "makeatother",
    "newsavebox",
    "newlength",
    "setlength",
    "dimexpr",
    "relax",
    "sbox",
    "displaystyle",
    "ifdim",
    "wd",
    "resizebox",
    "else",
    "usebox",
    "fi",
    "ifdefined",
    "newtheorem",
    "theorem",
    "rm",
    "alpha",
    "lambda",
    "tau",
    "kappa",
    "omega",
    "nabla",
    "langle",
    "rangle",
    "Phi",
    "rho_",
    "limits",
    "prod",
    "exp",
    "max",
    "min",
    "sup",
    "inf",
    "ldots",
    "cdots",
    "dots",
    "equiv",
    "approx",
    "neq",
    "leq",
    "geq",
    "sim",
    "to",
    "mapsto",
    "lVert",
    "rVert",
    "Vert",
    "mathcal",
    "boldsymbol",
    "hat",
    "bar",
    "tilde",
    "overline",
    "underline",
    "subseteq",
    "cup",
    "cap",
    "forall",
    "exists",
    "not",
    "psi",
    "Psi",
    "xi",
    "chi",
    "nu",
    "zeta",
    "theta",
    "Theta",
    "varepsilon",
    "vartheta",
    "varphi",
    "lim",
    "int",
    "oint",
    "big",
    "Big",
    "bigg",
    "Bigg",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "rvert",
    "lvert",
    "itshape",
}

PDFLATEX = shutil.which("pdflatex")


def _build(directory: Path, scenario: Path, hash_seed: str, sweep: Path) -> subprocess.CompletedProcess[str]:
    # one intra-op thread: tiny products on a loaded 2-core machine otherwise spin-wait
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, OMP_NUM_THREADS="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "prefdyn",
            "report",
            str(directory),
            "--scenario",
            str(scenario),
            "--examples",
            "2",
            "--theorem",
            "dpo-gradient",
            "--sweep",
            str(sweep),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from prefdyn.numerics.sweep import parse_sweep, run_sweep

    root = tmp_path_factory.mktemp("report")
    axes = [
        {"field": "training.learning_rate", "values": [0.1, 1.0, 10.0]},
        {"field": "training.beta", "values": [0.5, 2.0]},
    ]
    doc = {"sweep": {"scenario": TINY.name, "runs": 2, "bounds": ["learning_rate_ratio"]}, "axes": axes}
    run_sweep(parse_sweep(doc, TINY.parent, name="tiny_lr"), out=root / "sweep")
    out = []
    for seed in ("1", "2"):
        proc = _build(root / f"out{seed}", TINY, seed, root / "sweep")
        assert proc.returncode == 0, proc.stderr
        out.append(root / f"out{seed}")
    return out[0], out[1]


def _tex_files(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): p.read_text(encoding="utf-8") for p in sorted(directory.rglob("*.tex"))}


def _strip_comments(text: str) -> str:
    return re.sub(r"(?<!\\)%.*", "", text)


def test_writes_every_promised_file(reports: tuple[Path, Path]) -> None:
    out, _ = reports
    for name in (
        "main.tex",
        "theorems.tex",
        "macros.tex",
        "manifest.json",
        "tables/scenario.tex",
        "tables/simulation.tex",
        "tables/theorems.tex",
    ):
        assert (out / name).is_file(), name
    phase = ("phase-final_accuracy", "phase-theory_gap", "phase-harmed_behaviors", "phase-diverged_fraction")
    for figure in ("theory-vs-simulation", "prioritisation", "misalignment", "speed", *phase):
        assert (out / "figures" / f"{figure}.pdf").read_bytes().startswith(b"%PDF")
        assert (out / "figures" / f"{figure}.png").read_bytes().startswith(b"\x89PNG")


def test_manifest_records_inputs_hashes_and_skips(reports: tuple[Path, Path]) -> None:
    out, _ = reports
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"]["scenario_name"] == "tiny"
    assert manifest["seeds"]["scenario"] == 3 and manifest["runs"] == 2
    assert manifest["theorems"]["included"] == ["dpo-gradient"]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert "no persona data given" in manifest["skipped"]["persona"]
    assert manifest["sections"]["persona"] == "skipped"
    assert manifest["sections"]["sweep"] == "included"
    main = (out / "main.tex").read_text()
    assert "Skipped: no persona data given" in main
    assert r"\section*{What this report skipped}" in main


def test_tex_and_figures_are_byte_identical_across_runs(reports: tuple[Path, Path]) -> None:
    first, second = reports
    assert _tex_files(first) == _tex_files(second)
    for pdf in sorted((first / "figures").iterdir()):
        assert pdf.read_bytes() == (second / "figures" / pdf.name).read_bytes(), pdf.name


def test_environments_are_balanced(reports: tuple[Path, Path]) -> None:
    for name, text in _tex_files(reports[0]).items():
        stack: list[str] = []
        for kind, env in re.findall(r"\\(begin|end)\{([^}]+)\}", _strip_comments(text)):
            if kind == "begin":
                stack.append(env)
            else:
                assert stack and stack[-1] == env, f"{name}: \\end{{{env}}} closes {stack[-1:]}"
                stack.pop()
        assert not stack, f"{name}: unclosed {stack}"
        groups = re.findall(r"\\(begingroup|endgroup)", text)
        assert groups.count("begingroup") == groups.count("endgroup"), name


def test_every_input_and_graphic_exists(reports: tuple[Path, Path]) -> None:
    out, _ = reports
    text = "".join(_tex_files(out).values())
    inputs = re.findall(r"\\input\{(?:\\PDpath )?([^}]+)\}", text)
    assert inputs and all((out / f"{i}.tex").is_file() for i in inputs), inputs
    graphics = re.findall(r"\\includegraphics(?:\[[^]]*\])?\{\\PDpath ([^}]+)\}", text)
    assert len(graphics) == 8 and all((out / f"{g}.pdf").is_file() for g in graphics)


def test_every_reference_has_a_label(reports: tuple[Path, Path]) -> None:
    text = "".join(_tex_files(reports[0]).values())
    labels = set(re.findall(r"\\label\{([^}]+)\}", text))
    refs = set(re.findall(r"\\(?:eq)?ref\{([^}]+)\}", text))
    assert refs and refs <= labels, sorted(refs - labels)


def test_every_macro_used_is_defined(reports: tuple[Path, Path]) -> None:
    files = _tex_files(reports[0])
    text = _strip_comments("".join(files.values()))
    defined = set(re.findall(r"\\(?:newcommand|providecommand)\{\\([A-Za-z@]+)\}", text))
    defined |= set(re.findall(r"\\(?:newsavebox|newlength)\{\\([A-Za-z@]+)\}", text))
    used = set(re.findall(r"\\([A-Za-z@]+)", text))
    missing = sorted(u for u in used - defined - STANDARD if not u.startswith("PD@"))
    assert not missing, missing
    assert {"PDfit", "PDwhy", "PDpath", "PDscenario"} <= defined


def _compile(folder: Path, name: str) -> str:
    """Run pdflatex twice on ``folder/name.tex`` (the second pass resolves references); assert
    it succeeds with every reference defined; return the log."""
    assert PDFLATEX is not None
    for _ in range(2):
        proc = subprocess.run(
            [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-3000:]
    log = (folder / f"{name}.log").read_text(errors="replace")
    assert "undefined" not in log.lower().replace("font shape", ""), log[-3000:]
    return log


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")
def test_main_compiles_with_pdflatex_and_references_resolve(reports: tuple[Path, Path], tmp_path: Path) -> None:
    work = tmp_path / "doc"
    shutil.copytree(reports[0], work)
    log = _compile(work, "main")
    assert "Overfull" not in log
    assert (work / "main.pdf").stat().st_size > 10_000


def test_a_foreign_output_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("mine")
    proc = subprocess.run(
        [sys.executable, "-m", "prefdyn", "report", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "not empty and holds no earlier prefdyn report" in proc.stderr
    assert (tmp_path / "thesis.tex").read_text() == "mine"


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")
def test_theorems_tex_compiles_on_its_own(tmp_path: Path) -> None:
    """``theorems.tex`` needs only ``macros.tex`` and the packages: no table, figure or other file."""
    from prefdyn.numerics.scenario import default_scenario
    from prefdyn.reporting.document import Parts, macros_tex, theorems_tex
    from prefdyn.reporting.latex import PACKAGES
    from prefdyn.theory.catalogue import get_theorem

    parts = Parts(
        scenario=default_scenario(),
        runs=2,
        theorems=[get_theorem("dpo-gradient", "dpo"), get_theorem("dpo-gradient", "ipo")],
    )
    (tmp_path / "macros.tex").write_text(macros_tex(parts), encoding="utf-8")
    (tmp_path / "theorems.tex").write_text(theorems_tex(parts), encoding="utf-8")
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n"
        + f"\\usepackage{{{','.join(PACKAGES)}}}\n"
        + "\\input{macros}\n\\begin{document}\n\\input{theorems}\n\\end{document}\n",
        encoding="utf-8",
    )
    _compile(tmp_path, "paper")
