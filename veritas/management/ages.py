"""``--older-than 365d``: the age option of the retention commands (prune_actions,
prune_monitoring), read the same way everywhere."""

import re
from datetime import datetime, timedelta

from django.core.management.base import CommandError
from django.utils import timezone

UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_age(value: str) -> timedelta:
    """``4w``, ``365d``, ``12h`` or ``30m`` as a timedelta; CommandError for anything else
    (no unit, zero, a negative number)."""
    match = re.fullmatch(r"(\d+)([wdhm])", value.strip())
    if not match or int(match[1]) == 0:
        raise CommandError(f"--older-than takes a positive age such as 365d, 4w, 12h or 30m, not {value!r}.")
    try:
        return timedelta(**{UNITS[match[2]]: int(match[1])})
    except OverflowError:
        raise CommandError(f"--older-than {value!r} is beyond the calendar.") from None


def cutoff(value: str, now: datetime | None = None) -> datetime:
    """The moment ``value`` (an age) before now: what is older goes."""
    try:
        return (now or timezone.now()) - parse_age(value)
    except OverflowError:
        raise CommandError(f"--older-than {value!r} is beyond the calendar.") from None
