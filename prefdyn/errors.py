"""User-facing errors and warnings.

Every error a user can cause with bad input is a :class:`PrefdynError`. Its message names the
offending field (or file, or identifier) and the rule it broke; the command line prints it on
one line and exits with status 2, without a traceback. A result that is computed but should not
be trusted as it stands is a :class:`PrefdynWarning` (``warnings.warn``); the command line
prints it as one ``warning:`` line on stderr.
"""

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class PrefdynError(ValueError):
    """Bad input: the message names the field and the rule."""


class PrefdynWarning(UserWarning):
    """A result to read with care: the message says why and what to do instead."""


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


class PrefdynErrors(PrefdynError):
    """Several :class:`PrefdynError` s found in one input (a scenario or conjecture file);
    ``messages`` holds one ``"field: rule"`` line each, and the command line prints them one
    per line (exit status 2)."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = list(messages)
        super().__init__("; ".join(self.messages))


class ErrorCollector:
    """Collect every error of an input instead of stopping at the first one::

        errors = ErrorCollector()
        with errors.check():
            require(x > 0, "x", "must be > 0")
        with errors.check():
            require(y > 0, "y", "must be > 0")
        errors.raise_if_any()  # one PrefdynError, or PrefdynErrors listing both

    A failed block is skipped from the failing check on; later blocks still run."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except PrefdynErrors as err:
            self.messages.extend(m for m in err.messages if m not in self.messages)
        except PrefdynError as err:
            if str(err) not in self.messages:
                self.messages.append(str(err))

    def __bool__(self) -> bool:
        return bool(self.messages)

    def raise_if_any(self) -> None:
        """Raise what was collected: nothing, one :class:`PrefdynError` or :class:`PrefdynErrors`."""
        if len(self.messages) == 1:
            raise PrefdynError(self.messages[0])
        if self.messages:
            raise PrefdynErrors(self.messages)
