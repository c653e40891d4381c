r"""One number-formatting policy for every text table and summary line prefdyn prints.

* Numbers carry :data:`SIGNIFICANT` significant digits (:func:`sig`), never a fixed count of
  decimals: ``0.0000123`` prints as ``1.23e-05``, not ``0.0000``; integers print as integers.
* A value known only to a resolution :math:`r` (float32 arithmetic, a mean of :math:`n`
  indicators, a p-value of a test with finitely many outcomes) prints as ``< r`` when it lies
  below it (:func:`sig` with ``resolution``, :func:`p_value_text`): the text never claims a
  precision the measurement does not have.
* A right-censored count (an event that did not happen within ``limit`` steps, stored as
  ``limit + 1``) prints as ``>limit`` (:func:`count_text`).
* An estimate with a confidence interval prints as ``x [lo, hi]`` (:func:`with_interval`).

>>> sig(0.0000123456), sig(0.86884), sig(12345678.0), sig(3)
('1.235e-05', '0.8688', '1.235e+07', '3')
>>> sig(3e-9, resolution=6e-8)
'< 6e-08'
>>> p_value_text(2 / 40320, 2 / 40320)
'< 5.0e-05'
>>> count_text(101, 100)
'>100'
"""

from __future__ import annotations

import math

#: Significant digits of every number in a text table or summary line.
SIGNIFICANT = 4


def sig(value: float | None, digits: int = SIGNIFICANT, *, resolution: float | None = None) -> str:
    """``value`` with ``digits`` significant digits (``n/a`` for ``None`` or NaN); with
    ``resolution``, ``< resolution`` when :math:`|value| <` ``resolution`` (including 0)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if resolution is not None and resolution > 0 and abs(value) < resolution:
        return f"< {resolution:.1g}"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    return f"{value:.{digits}g}"


def signed(value: float, digits: int = SIGNIFICANT) -> str:
    """:func:`sig` with an explicit sign (``+0.5``, ``-0.25``)."""
    text = sig(value, digits)
    return text if text.startswith(("-", "n/a")) or text == "0" else f"+{text}"


def with_interval(value: float, low: float, high: float, digits: int = SIGNIFICANT) -> str:
    """``value [low, high]``: an estimate and its confidence interval."""
    return f"{sig(value, digits)} [{sig(low, digits)}, {sig(high, digits)}]"


#: Significant digits of an uncertainty (a standard deviation, a CI half-width).
SPREAD_DIGITS = 2


def plus_minus(mean: float, spread: float, digits: int = SIGNIFICANT) -> str:
    """``mean ± spread``: the spread with :data:`SPREAD_DIGITS` significant digits and the mean
    to the same decimal place (digits beyond it are noise), but never rounded to zero (then one
    significant digit); a zero spread (one run) leaves the mean ``digits`` significant digits.

    >>> plus_minus(0.87891, 0.010013), plus_minus(0.0002742, 0.01822), plus_minus(0.5, 0.0)
    ('0.879 ± 0.010', '3e-04 ± 0.018', '0.5 ± 0')
    """
    if not (math.isfinite(mean) and math.isfinite(spread)) or spread <= 0:
        return f"{sig(mean, digits)} ± {sig(spread, digits)}"
    place = SPREAD_DIGITS - 1 - math.floor(math.log10(spread))  # decimals of the spread's last digit
    spread_text = f"{spread:.{max(place, 0)}f}" if place >= 0 else f"{round(spread, place):.0f}"
    if place >= 0:
        mean_text = f"{mean:.{place}f}"
        if float(mean_text) == 0 and mean != 0:
            mean_text = f"{mean:.0e}"
    else:
        mean_text = f"{round(mean, place):.0f}"
    return f"{mean_text} ± {spread_text}"


def count_text(count: int, limit: int) -> str:
    """A count of steps; ``>limit`` when the event never happened within ``limit`` steps (the
    count is then right-censored, stored as ``limit + 1``)."""
    return f">{limit}" if count > limit else str(count)


def _round_up(value: float, digits: int) -> float:
    """``value`` rounded *up* to ``digits`` significant digits."""
    exponent = math.floor(math.log10(value)) - digits + 1
    scale = 10.0**exponent
    return math.ceil(value / scale * (1 - 1e-12)) * scale


def p_value_text(p: float, resolution: float | None = None) -> str:
    """A p-value with two significant digits; at (or below) the smallest value the test can
    give, ``resolution`` (``2/n!`` for Spearman's exact test without ties, ``1/(P+1)`` for
    ``P`` random permutations), it prints ``< r`` with ``r`` the resolution rounded up: the test
    cannot say more."""
    if math.isnan(p):
        return "n/a"
    if p >= 1:  # e.g. every value tied: the test cannot reject anything
        return "1"
    if resolution is not None and resolution > 0 and p <= resolution * (1 + 1e-9):
        bound = _round_up(resolution, 2)
        return f"< {bound:.1e}" if bound > p else f"<= {bound:.1e}"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def p_value_phrase(p: float, resolution: float | None = None, method: str = "permutation") -> str:
    """The test and its p-value (:func:`p_value_text`): ``exact p = 0.012``,
    ``permutation p < 1.0e-04``."""
    text = p_value_text(p, resolution)
    return f"{method} p {text if text.startswith('<') else '= ' + text}"
