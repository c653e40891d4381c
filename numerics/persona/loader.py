r"""Loader for persona-format JSONL (Anthropic's model-written persona evaluations).

One file is one *behaviour* (named after the file's stem); each line is a JSON object with

* ``question`` (str): the prompt shown to the model;
* ``answer_matching_behavior`` / ``answer_not_matching_behavior`` (str): the two single-token
  answers, e.g. ``" Yes"`` / ``" No"`` or ``" (A)"`` / ``" (B)"``;
* optionally ``statement`` (str) and ``label_confidence`` (float in [0, 1]).

The loaded set shares one ordered response pair :math:`(y_1, y_2)` (the first answers of the
prefdyn's notation): by default the pair of the first usable line, matching answer first, or the
``responses`` argument. Each record's sign is :math:`s = +1` when the behaviour-matching answer
is :math:`y_1` (the first response is preferred) and :math:`s = -1` otherwise, so
:math:`\delta_b = \mu_b^+ - \mu_b^-` is the paper's :math:`\mu_{Yes} - \mu_{No}` on the persona
data.

A malformed line is reported (``file:line: reason``) through the ``report`` callback and
skipped; so is a whole file whose answer pair differs from the set's. Loading fails with
:class:`~prefdyn.errors.PrefdynError` only when no usable line is left.

Example
-------
>>> import json, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> rows = [{"question": "q1", "answer_matching_behavior": " Yes",
...          "answer_not_matching_behavior": " No"},
...         {"question": "q2", "answer_matching_behavior": " No",
...          "answer_not_matching_behavior": " Yes"}]
>>> _ = (d / "kind.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n{oops\n")
>>> problems = []
>>> corpus = load_persona(d, report=problems.append)
>>> corpus.responses, [r.sign for r in corpus.behaviors[0].records]
((' Yes', ' No'), [1, -1])
>>> problems[0].endswith("kind.jsonl:3: not valid JSON")
True
"""

from __future__ import annotations

import glob as globlib
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prefdyn.errors import PrefdynError

Report = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class PersonaRecord:
    """One usable line: the prompt fields and the behaviour-matching answer."""

    question: str
    statement: str
    matching: str
    not_matching: str
    label_confidence: float | None
    sign: int  # +1 when ``matching`` is the set's first response y_1

    def fields(self) -> dict[str, str]:
        """Fields a prompt template may use: ``{question}``, ``{statement}``."""
        return {"question": self.question, "statement": self.statement}


@dataclass(frozen=True)
class Behavior:
    """The usable records of one file; ``digest`` is the SHA-256 of the file's bytes."""

    name: str
    path: Path
    digest: str
    records: tuple[PersonaRecord, ...]

    @property
    def signs(self) -> list[int]:
        return [r.sign for r in self.records]


@dataclass(frozen=True)
class PersonaCorpus:
    """Behaviours sharing the ordered response pair ``responses = (y_1, y_2)``."""

    responses: tuple[str, str]
    behaviors: tuple[Behavior, ...]

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.behaviors]

    def select(self, names: Sequence[str] | None) -> PersonaCorpus:
        """The sub-corpus of ``names`` (in that order); ``None`` keeps everything."""
        if names is None:
            return self
        index = {b.name: b for b in self.behaviors}
        unknown = [n for n in names if n not in index]
        if unknown:
            raise PrefdynError(
                f"behaviours: unknown behaviour {unknown[0]!r} "
                f"(known: {len(index)} behaviours, e.g. {', '.join(list(index)[:3])})"
            )
        return PersonaCorpus(self.responses, tuple(index[n] for n in dict.fromkeys(names)))


def resolve_paths(spec: str | Path) -> list[Path]:
    """Expand a file, a folder (its ``*.jsonl``) or a glob into a sorted list of files."""
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.glob("*.jsonl") if p.is_file())
        if not files:
            raise PrefdynError(f"data: folder {path} holds no *.jsonl file")
        return files
    if path.is_file():
        return [path]
    if globlib.has_magic(str(spec)):
        files = sorted(Path(p) for p in globlib.glob(str(path)) if Path(p).is_file())
        if not files:
            raise PrefdynError(f"data: glob {spec!r} matches no file")
        return files
    raise PrefdynError(f"data: {spec} does not exist (expected a file, a folder or a glob)")


def _parse_line(text: str) -> tuple[str, str, str, str, float | None] | str:
    """The record's fields, or the reason the line is unusable."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return "not valid JSON"
    if not isinstance(obj, dict):
        return "not a JSON object"
    strings = []
    for key in ("question", "answer_matching_behavior", "answer_not_matching_behavior"):
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            return f"field {key!r} missing or not a non-empty string"
        strings.append(value)
    question, matching, not_matching = strings
    if matching == not_matching:
        return "the two answers are equal"
    statement = obj.get("statement", question)
    if not isinstance(statement, str):
        return "field 'statement' is not a string"
    confidence = obj.get("label_confidence")
    if confidence is not None and not (isinstance(confidence, (int, float)) and 0.0 <= confidence <= 1.0):
        return "field 'label_confidence' is not a number in [0, 1]"
    return question, statement, matching, not_matching, confidence


def _read_file(
    path: Path, responses: tuple[str, str] | None, report: Report
) -> tuple[Behavior | None, tuple[str, str] | None]:
    raw = path.read_bytes()
    records: list[PersonaRecord] = []
    seen: dict[tuple[str, str], int] = {}
    duplicates = conflicting = 0
    for lineno, data in enumerate(raw.splitlines(), start=1):
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError as err:
            report(f"{path}:{lineno}: not valid UTF-8 (byte {err.start + 1}); line skipped")
            continue
        if not line.strip():
            continue
        parsed = _parse_line(line)
        if isinstance(parsed, str):
            report(f"{path}:{lineno}: {parsed}")
            continue
        question, statement, matching, not_matching, confidence = parsed
        if responses is None:
            responses = (matching, not_matching)
        if {matching, not_matching} != set(responses):
            report(f"{path}:{lineno}: answer pair {(matching, not_matching)!r} differs from the set's {responses!r}")
            continue
        sign = 1 if matching == responses[0] else -1
        key = (question, statement)  # the prompt: a repeat would sit in train and test at once
        if key in seen:
            duplicates += 1
            conflicting += seen[key] != sign
            continue
        seen[key] = sign
        records.append(PersonaRecord(question, statement, matching, not_matching, confidence, sign))
    if duplicates:
        report(
            f"{path}: {duplicates} duplicated statement(s) dropped before splitting (kept the "
            f"first of each{f'; {conflicting} with the opposite label' if conflicting else ''})"
        )
    if not records:
        report(f"{path}: no usable line")
        return None, responses
    digest = hashlib.sha256(raw).hexdigest()
    return Behavior(path.stem, path, digest, tuple(records)), responses


def load_persona(
    data: str | Path | Iterable[str | Path],
    *,
    behaviors: Sequence[str] | None = None,
    responses: tuple[str, str] | None = None,
    report: Report = _stderr,
) -> PersonaCorpus:
    """Load persona-format JSONL from a file, a folder, a glob (or several of them).

    ``behaviors`` keeps only the named files' stems (an unknown name is an error);
    ``responses`` fixes the ordered pair :math:`(y_1, y_2)`. Malformed lines go to ``report``.
    """
    specs = [data] if isinstance(data, (str, Path)) else list(data)
    files = list(dict.fromkeys(p for spec in specs for p in resolve_paths(spec)))
    if behaviors is not None:
        stems = {p.stem for p in files}
        for name in behaviors:
            if name not in stems:
                raise PrefdynError(
                    f"behaviours: unknown behaviour {name!r} (no {name}.jsonl among {len(files)} data files)"
                )
        files = [p for p in files if p.stem in set(behaviors)]
    loaded: dict[str, Behavior] = {}
    for path in files:
        if path.stem in loaded:
            raise PrefdynError(f"data: two files are named {path.stem!r} ({loaded[path.stem].path} and {path})")
        behavior, responses = _read_file(path, responses, report)
        if behavior is not None:
            loaded[path.stem] = behavior
    if not loaded or responses is None:
        raise PrefdynError(f"data: no usable line in {len(files)} file(s) (first: {files[0] if files else 'none'})")
    return PersonaCorpus(responses, tuple(loaded.values()))
