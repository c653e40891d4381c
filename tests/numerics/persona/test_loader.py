"""Loader of persona-format JSONL: files, folders, globs, malformed lines, answer pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prefdyn.errors import PrefdynError
from prefdyn.numerics.persona.loader import load_persona


def _row(q: str, match: str = " Yes", other: str = " No", **extra: object) -> str:
    return json.dumps(
        {"question": q, "answer_matching_behavior": match, "answer_not_matching_behavior": other, **extra}
    )


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_folder_signs_and_fields(tmp_path: Path) -> None:
    _write(tmp_path / "b.jsonl", [_row("q1", statement="s1", label_confidence=0.9), _row("q2", " No", " Yes")])
    _write(tmp_path / "a.jsonl", [_row("q3", " No", " Yes")])
    corpus = load_persona(tmp_path, report=pytest.fail)
    assert corpus.names == ["a", "b"]
    # the pair is the first usable line's, matching answer first: a.jsonl's (" No", " Yes")
    assert corpus.responses == (" No", " Yes")
    b = corpus.behaviors[1]
    assert b.signs == [-1, 1]
    assert b.records[0].statement == "s1" and b.records[0].label_confidence == 0.9
    assert b.records[1].statement == "q2"  # statement defaults to the question
    (tmp_path / "c.jsonl").mkdir()  # a folder named like a data file is not a behaviour
    assert load_persona(tmp_path, report=pytest.fail).names == ["a", "b"]


def test_malformed_lines_are_reported_with_file_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "x.jsonl",
        [
            _row("ok"),
            "{not json",
            json.dumps([1, 2]),
            json.dumps({"question": "q"}),
            _row("same", " Yes", " Yes"),
            "",
            _row("conf", label_confidence=3.0),
            _row("pair", " (A)", " (B)"),
            _row("ok2", " No", " Yes"),
        ],
    )
    problems: list[str] = []
    corpus = load_persona(path, report=problems.append)
    assert [r.question for r in corpus.behaviors[0].records] == ["ok", "ok2"]
    assert [p.split(": ")[0] for p in problems] == [f"{path}:{i}" for i in (2, 3, 4, 5, 7, 8)]
    assert "not valid JSON" in problems[0] and "differs" in problems[-1]


def test_any_answer_pair_and_glob(tmp_path: Path) -> None:
    _write(tmp_path / "syc-1.jsonl", [_row("q", " (A)", " (B)"), _row("r", " (B)", " (A)")])
    _write(tmp_path / "syc-2.jsonl", [_row("s", " (B)", " (A)")])
    _write(tmp_path / "other.jsonl", [_row("t")])
    corpus = load_persona(str(tmp_path / "syc-*.jsonl"), report=pytest.fail)
    assert corpus.names == ["syc-1", "syc-2"]
    assert corpus.responses == (" (A)", " (B)")
    assert [b.signs for b in corpus.behaviors] == [[1, -1], [-1]]
    fixed = load_persona(tmp_path / "syc-1.jsonl", responses=(" (B)", " (A)"))
    assert fixed.behaviors[0].signs == [-1, 1]


@pytest.mark.parametrize("case", ["missing", "empty-folder", "no-usable-line", "glob", "unknown"])
def test_bad_input_fails_with_a_clear_message(tmp_path: Path, case: str) -> None:
    _write(tmp_path / "bad.jsonl", ["{oops", json.dumps({"question": 1})])
    (tmp_path / "empty").mkdir()
    spec, kwargs, words = {
        "missing": (tmp_path / "nope", {}, "does not exist"),
        "empty-folder": (tmp_path / "empty", {}, "no *.jsonl"),
        "no-usable-line": (tmp_path / "bad.jsonl", {}, "no usable line"),
        "glob": (str(tmp_path / "zz*.jsonl"), {}, "matches no file"),
        "unknown": (tmp_path, {"behaviors": ["ghost"]}, "unknown behaviour 'ghost'"),
    }[case]
    with pytest.raises(PrefdynError, match="^(data|behaviours): .*" + words.replace("*", r"\*")):
        load_persona(spec, report=lambda _: None, **kwargs)


def test_content_digest_changes_with_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", [_row("q")])
    first = load_persona(path).behaviors[0].digest
    _write(path, [_row("q2")])
    assert load_persona(path).behaviors[0].digest != first
