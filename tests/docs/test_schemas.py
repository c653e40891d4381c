"""The JSON output schemas in docs/schemas/ against real outputs of the commands they document.

Each command runs in-process on a small input and its JSON document must validate against its
schema; a key that disappears or changes type fails here (the schemas require every key they list
and forbid unlisted ones, so a new key must be documented too). A second test proves the schemas
are that strict: removing any required key or changing any value's type in a real document makes
it invalid.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from prefdyn.cli import main

jsonschema = pytest.importorskip("jsonschema")  # the [docs] extra

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
TINY = ROOT / "tests" / "data" / "tiny.toml"
CONJECTURE = ROOT / "verification" / "conjectures" / "one-step-accuracy.toml"

#: Keys a document may lack (each schema says when they are present).
OPTIONAL = {
    "test",
    "warning",
    "reference",
    "unavailable",
    "chosen_logp_change",
    "rejected_logp_change",
    "accuracy_lower_bound",
    "cluster",
}


def schema(name: str) -> dict[str, Any]:
    document = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def variant(tmp_path: Path, name: str, edit: str = "", append: str = "") -> str:
    text = TINY.read_text()
    if edit:
        old, new = edit.split(" -> ")
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.toml"
    path.write_text(text + append)
    return str(path)


class _Capture:
    """``main``'s stdout, for a module-scoped fixture (pytest's capsys is function-scoped)."""

    def json(self, *argv: str, status: int = 0) -> dict[str, Any]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            assert main(list(argv)) == status, argv
        return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Real documents of every documented command, several shapes each."""
    tmp = tmp_path_factory.mktemp("outputs")
    cli = _Capture()
    laplace = variant(tmp, "laplace", 'distinguishability = 0.5 -> distinguishability = 0.5\ndistribution = "laplace"')
    hinge = variant(tmp, "hinge", 'loss = "dpo" -> loss = "hinge"')
    reference = variant(tmp, "reference", append="\n[reference]\nvocab = 6\nscale = 0.5\n")
    no_test = variant(tmp, "no-test", "test_fraction = 0.25 -> test_fraction = 0.0")
    user_loss = variant(
        tmp, "user-loss", 'loss = "dpo" -> loss = { expr = "(h - gamma)**2", params = { gamma = 0.5 } }'
    )
    return {
        "simulate": [
            cli.json("simulate", str(TINY), "--runs", "2", "--json"),
            cli.json("simulate", no_test, "--runs", "2", "--json"),
            cli.json("simulate", reference, "--runs", "2", "--json"),
        ],
        "predict": [
            cli.json("predict", str(TINY), "--json"),
            cli.json("predict", laplace, "--json"),
            cli.json("predict", hinge, "--json"),
            cli.json("predict", reference, "--json"),
            cli.json("predict", user_loss, "--json"),
        ],
        "verify": [
            cli.json("verify", "dpo-gradient", "weight-growth", "--examples", "2", "--json"),
            cli.json(
                "verify",
                "--conjecture",
                str(CONJECTURE),
                "--examples",
                "5",
                "--json",
                "--out",
                str(tmp / "cx"),
                status=1,
            ),
        ],
        "derive": [
            cli.json("derive", "dpo-gradient", "--json"),
            cli.json("derive", "dpo-gradient", "--loss-expr", "(h - gamma)**2", "--param", "gamma=0.5", "--json"),
        ],
        "theorems": [cli.json("theorems", "dpo-gradient", "--loss", "ipo", "--json")],
    }


@pytest.mark.parametrize("command", ["simulate", "predict", "verify", "derive", "theorems"])
def test_real_outputs_validate(outputs: dict[str, list[dict[str, Any]]], command: str) -> None:
    validator = jsonschema.Draft202012Validator(schema(command))
    for document in outputs[command]:
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every dictionary key's path (into the first element of each list)."""
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in [(*path, key), *_paths(value, (*path, key))]]
    if isinstance(node, list) and node:
        return _paths(node[0], (*path, 0))
    return []


def _other_type(value: Any) -> Any:
    """A value of another JSON type (a list for null: every nullable key is a scalar or object)."""
    if value is None:
        return []
    return 0 if isinstance(value, (str, bool, list, dict)) else "not a number"


@pytest.mark.parametrize("command", ["simulate", "predict", "verify", "derive", "theorems"])
def test_schemas_catch_a_missing_key_or_a_changed_type(outputs: dict[str, list[dict[str, Any]]], command: str) -> None:
    validator = jsonschema.Draft202012Validator(schema(command))
    for document in outputs[command]:
        for path in _paths(document):
            *parent_path, key = path
            removed, retyped = copy.deepcopy(document), copy.deepcopy(document)
            for doc in (removed, retyped):
                parent = doc
                for step in parent_path:
                    parent = parent[step]
                if doc is removed:
                    del parent[key]
                else:
                    parent[key] = _other_type(parent[key])
            if key not in OPTIONAL:
                assert not validator.is_valid(removed), f"{command}: removing {list(path)} went unnoticed"
            assert not validator.is_valid(retyped), f"{command}: retyping {list(path)} went unnoticed"
