"""Every theorem's LaTeX compiles with pdflatex: each block alone in a minimal document, every
loss's block of a theorem together in one document (labels carry the loss, so none collides), and
the ``prefdyn derive --latex`` command itself for a user loss."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prefdyn.theory.catalogue import get_theorem, theorem_ids
from prefdyn.theory.losses import loss_from_expression, loss_names
from prefdyn.theory.printing import MINIMAL_PREAMBLE, notation_table

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (CI installs TeX)"),
]

USER_EXPR = "log(1 + exp(-h)) + h**2/10"
#: Every registered loss and one user expression with a parameter (the perturbation test's).
LOSSES = [*loss_names(), loss_from_expression("log(1 + exp(-(h - gamma)))", {"gamma": 0.5}, name="shifted-logistic")]


def compile_document(body: str, workdir: Path) -> str:
    """Compile ``MINIMAL_PREAMBLE`` + ``body``; return the log (raises with its tail on failure)."""
    tex = workdir / "doc.tex"
    tex.write_text(MINIMAL_PREAMBLE + "\\begin{document}\n" + body + "\n\\end{document}\n", encoding="utf-8")
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    log = (workdir / "doc.log").read_text(encoding="utf-8", errors="replace")
    assert run.returncode == 0, log[-3000:]
    return log


@pytest.mark.parametrize("theorem_id", theorem_ids())
def test_every_loss_block_compiles_alone_and_together(theorem_id: str, tmp_path: Path) -> None:
    blocks = []
    for loss in LOSSES:
        block = get_theorem(theorem_id, loss).latex()
        compile_document(block, tmp_path)
        blocks.append(block)
    log = compile_document("\n\n".join(blocks), tmp_path)
    assert "multiply defined" not in log


def test_derive_command_output_compiles_for_a_user_loss(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "prefdyn", "derive", "dpo-gradient", "--loss-expr", USER_EXPR, "--latex"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert r"\label{thm:dpo-gradient:custom}" in run.stdout
    compile_document(run.stdout, tmp_path)


def test_the_catalogue_notation_list_compiles(tmp_path: Path) -> None:
    """Every symbol of the notation list is a description label; a ``]`` inside one (as in
    ``\\mathbb{E}[\\Delta W_1]_{ij}``) must not end the label."""
    table = notation_table([get_theorem(theorem_id) for theorem_id in theorem_ids()])
    assert r"\item[{$\mathbb{E}[" in table
    compile_document(table, tmp_path)
