"""How numbers read on screen, the same in the admin, charts and templates.

Counts carry thousands separators ("12,345"), ratios read as percentages with one decimal
("3.3 %"), scores such as a severity as two decimals ("0.90"). A no-break space keeps a
number and its unit on one line. Template filters of the same names: ``{% load veritas_formats %}``.
"""

from datetime import timedelta

NBSP = "\u00a0"
MISSING = "\u2013"  # an en dash: no value


def number(value: float | None, decimals: int = 0) -> str:
    """``1234.5`` → ``"1,235"``; ``number(0.5, 2)`` → ``"0.50"``; None → MISSING."""
    if value is None:
        return MISSING
    text = f"{value:,.{decimals}f}"
    # "-0" after rounding a tiny negative reads as a sign error.
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def percent(ratio: float | None, decimals: int = 1) -> str:
    """A ratio as a percentage: ``1 / 30`` → ``"3.3 %"``; None → MISSING."""
    if ratio is None:
        return MISSING
    return f"{number(ratio * 100, decimals)}{NBSP}%"


def minutes(duration: timedelta) -> int:
    """Whole minutes of a duration, rounded up (a 90-second wait is not "1 minute")."""
    return -(-int(duration.total_seconds()) // 60)
