"""User-facing errors.

Every error a user can cause with bad input is a :class:`PrefdynError`. Its message names the
offending field (or file, or identifier) and the rule it broke; the command line prints it on
one line and exits with status 2, without a traceback.
"""


class PrefdynError(ValueError):
    """Bad input: the message names the field and the rule."""


def require(condition: bool, field: str, rule: str) -> None:
    """Raise :class:`PrefdynError` ``"<field>: <rule>"`` unless ``condition`` holds."""
    if not condition:
        raise PrefdynError(f"{field}: {rule}")
