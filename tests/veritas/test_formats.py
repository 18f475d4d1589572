"""veritas.formats: numbers as people read them, in Python and in templates."""

from datetime import timedelta

import pytest
from django.template import Context, Template

from veritas import formats


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [(1234567, 0, "1,234,567"), (1234.5, 1, "1,234.5"), (0.9, 2, "0.90"), (-0.001, 2, "0.00"), (None, 0, "\u2013")],
)
def test_it_groups_thousands_and_fixes_the_decimals(value, decimals, text):
    assert formats.number(value, decimals) == text


@pytest.mark.parametrize(
    ("ratio", "text"), [(1 / 30, "3.3\u00a0%"), (1, "100.0\u00a0%"), (0, "0.0\u00a0%"), (None, "\u2013")]
)
def test_it_shows_a_ratio_as_a_percentage_with_one_decimal(ratio, text):
    assert formats.percent(ratio) == text


def test_it_rounds_a_wait_up_to_whole_minutes():
    assert formats.minutes(timedelta(minutes=15)) == 15
    assert formats.minutes(timedelta(seconds=90)) == 2


def test_templates_have_the_same_filters():
    template = Template("{% load veritas_formats %}{{ n|number }} {{ r|percent }} {{ s|number:2 }} {{ d|minutes }}")

    text = template.render(Context({"n": 12345, "r": 0.25, "s": 0.9, "d": timedelta(minutes=30)}))

    assert text == "12,345 25.0\u00a0% 0.90 30"
