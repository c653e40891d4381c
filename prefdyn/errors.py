"""User-facing errors.

Every error a user can cause with bad input is a :class:`PrefdynError`. Its message names the
offending field (or file, or identifier) and the rule it broke; the command line prints it on
one line and exits with status 2, without a traceback.
"""

import tomllib
from pathlib import Path
from typing import Any


class PrefdynError(ValueError):
    """Bad input: the message names the field and the rule."""


def require(condition: bool, field: str, rule: str) -> None:
    """Raise :class:`PrefdynError` ``"<field>: <rule>"`` unless ``condition`` holds."""
    if not condition:
        raise PrefdynError(f"{field}: {rule}")


def read_toml(path: str | Path, field: str) -> dict[str, Any]:
    """The TOML document at ``path``; a missing or malformed file is a :class:`PrefdynError`
    naming ``field`` (e.g. ``"scenario"``) and the file."""
    file = Path(path)
    require(file.is_file(), field, f"file not found: {file}")
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise PrefdynError(f"{field}: {file} is not valid TOML ({err})") from None
    except RecursionError:
        raise PrefdynError(f"{field}: {file} is nested too deeply to be a prefdyn file") from None


def output_directory(path: str | Path, field: str) -> Path:
    """``path`` made ready to write into: created when absent (with its parents); an existing
    file there is a :class:`PrefdynError` naming ``field``."""
    folder = Path(path)
    require(not folder.exists() or folder.is_dir(), field, f"{folder} exists and is not a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PrefdynError(f"{field}: cannot create {folder} ({err.strerror})") from None
    return folder
