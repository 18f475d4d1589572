"""The overview's flags, at their boundaries (docs/dashboard.md)."""

import pytest

from dashboard.selectors import is_declining

WEEK = 7


@pytest.mark.parametrize(
    ("count", "mean", "trend_per_week", "decaying", "expected"),
    [
        (4, 70.0, -0.5, 65.0, True),  # every bound just met
        (3, 70.0, -2.0, 50.0, False),  # too few assessments to say
        (4, 70.0, -0.49, 50.0, False),  # flat, whatever one bad score did to the recent level
        (4, 70.0, -2.0, 65.01, False),  # falling slowly from a high start: recent level near the mean
        (10, 70.0, None, 50.0, False),  # no trend (all at one time)
    ],
)
def test_declining_needs_enough_assessments_a_real_fall_and_a_recent_level_under_the_mean(
    count, mean, trend_per_week, decaying, expected
):
    trend = None if trend_per_week is None else trend_per_week / WEEK
    assert is_declining(count, mean, trend, decaying) is expected
