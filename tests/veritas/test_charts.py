"""veritas.charts: the chart component every app draws with."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.template import Context, Template

from veritas.charts import Chart, Series, nice_ticks, time_ticks

HOUR = timedelta(hours=1)
MONDAY = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday, midnight


def hourly(hours: int, start: datetime = MONDAY + timedelta(hours=13)) -> Chart:
    x = [start + i * HOUR for i in range(hours)]
    return Chart(
        title="Logs per hour",
        x=x,
        step=HOUR,
        series=[
            Series("info", [i % 5 + 1 for i in range(hours)], "#42a5f5"),
            Series("error", [i % 2 for i in range(hours)], "#ef5350"),
        ],
        value_label="logs",
    )


def texts(html: str, css_class: str) -> list[str]:
    """The <text> labels inside the first <g class="css_class">."""
    group = re.search(rf'<g class="{css_class}"[^>]*>(.*?)</g>', html, re.S).group(1)
    return re.findall(r"<text[^>]*>([^<]*)</text>", group)


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0, 100, [0, 20, 40, 60, 80, 100]),
        (0, 120, [0, 50, 100, 150]),
        (0, 7, [0, 2, 4, 6, 8]),
        (0, 1234, [0, 500, 1000, 1500]),
        (0, 0.37, [0, 0.1, 0.2, 0.3, 0.4]),
        (0, 0.3, [0, 0.1, 0.2, 0.3]),  # 0.3 / 0.1 is 2.9999…: no extra tick for float noise
        (-3, 9, [-5, 0, 5, 10]),
    ],
)
def test_it_steps_the_scale_by_1_2_or_5_times_a_power_of_ten(low, high, ticks):
    assert nice_ticks(low, high) == ticks


def test_it_gives_counts_whole_ticks():
    assert nice_ticks(0, 3, integer=True) == [0, 1, 2, 3]
    assert nice_ticks(0, 0, integer=True) == [0, 1]  # nothing counted still has a scale


@pytest.mark.parametrize(
    ("span", "step", "labels"),
    [
        (timedelta(hours=12), HOUR, ["Mon 14:00", "Mon 16:00", "Mon 18:00", "Mon 20:00", "Mon 22:00", "Tue 00:00"]),
        (
            timedelta(days=7),
            HOUR,
            ["Tue 17 Nov", "Wed 18 Nov", "Thu 19 Nov", "Fri 20 Nov", "Sat 21 Nov", "Sun 22 Nov", "Mon 23 Nov"],
        ),
        (timedelta(weeks=12), timedelta(days=1), ["23 Nov 2026", "7 Dec", "21 Dec", "4 Jan 2027", "18 Jan", "1 Feb"]),
        (timedelta(days=400), timedelta(weeks=1), ["Jan 2027", "Apr", "Jul", "Oct"]),
    ],
)
def test_it_picks_readable_time_ticks_for_the_span(span, step, labels):
    start = MONDAY + timedelta(hours=13)

    ticks = time_ticks(start, start + span, width=600, min_step=step)

    assert [label for _, label in ticks] == labels
    assert all(start <= moment <= start + span for moment, _ in ticks)


def test_it_never_ticks_finer_than_a_bucket():
    ticks = time_ticks(MONDAY, MONDAY + timedelta(days=3), width=2000, min_step=timedelta(days=1))

    assert [moment for moment, _ in ticks] == [MONDAY + timedelta(days=d) for d in range(4)]


@pytest.mark.parametrize("width", [200, 400, 700, 1200])
@pytest.mark.parametrize("span", [timedelta(hours=5), timedelta(days=2), timedelta(days=30), timedelta(days=900)])
def test_its_time_labels_fit_side_by_side(width, span):
    ticks = time_ticks(MONDAY, MONDAY + span, width=width)

    assert ticks
    assert len(ticks) == 1 or sum(len(label) * 6.6 + 16 for _, label in ticks) <= width


def test_it_draws_axes_a_legend_and_one_bar_per_bucket_with_data():
    html = hourly(12).render()

    assert html.count('class="vchart-bar"') == 12
    assert texts(html, "vchart-grid") == ["0", "2", "4", "6"]
    assert texts(html, "vchart-x")[0] == "Mon 14:00"
    assert re.findall(r"</span>([^<]+)</li>", html) == ["info", "error"]


def test_its_accessible_text_summarises_the_data():
    chart = hourly(12)
    html = chart.render()

    assert 'role="img"' in html
    assert 'aria-labelledby="chart-logs-per-hour-title chart-logs-per-hour-desc"' in html
    assert '<title id="chart-logs-per-hour-title">Logs per hour</title>' in html
    assert chart.summary() == (
        "From Mon 16 Nov 2026 13:00 to Tue 17 Nov 2026 00:00. 39 logs in total: info 33, error 6. "
        "Highest: 6 at Mon 16 Nov 2026 22:00."
    )
    assert f'<desc id="chart-logs-per-hour-desc">{chart.summary()}</desc>' in html


def test_its_hidden_table_holds_every_value_and_the_totals():
    chart = hourly(12)
    html = chart.render()

    rows = re.findall(r'<tr><th scope="row">([^<]*)</th>((?:<td>[^<]*</td>)+)</tr>', html)
    assert len(rows) == 12
    assert rows[4] == ("Mon 16 Nov 2026 17:00", "<td>5</td><td>0</td><td>5</td>")
    assert sum(int(re.findall(r"<td>(\d+)</td>", cells)[-1]) for _, cells in rows) == sum(chart.totals()) == 39


def test_gaps_in_time_stay_gaps():
    x = [MONDAY, MONDAY + HOUR, MONDAY + 9 * HOUR]  # nothing from 02:00 to 09:00
    html = Chart(title="t", x=x, step=HOUR, series=[Series("n", [1, 1, 1], "#000")]).render()

    lefts = [float(v) for v in re.findall(r'<rect x="([\d.]+)"', html)]
    assert lefts[2] - lefts[1] > 6 * (lefts[1] - lefts[0])


def test_it_escapes_every_text_it_is_given():
    chart = Chart(
        title='<script>alert("t")</script>',
        x=["<b>low</b>", "a & b"],
        series=[Series("<img src=x onerror=alert(1)>", [1, 2], "#123456")],
        value_label="<i>logs</i>",
    )

    html = chart.render()

    assert "<script>" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in html
    assert "a &amp; b" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize("colour", ["red;background:url(//evil)", '#fff" onload="x', "url(x)", ""])
def test_it_refuses_a_colour_that_is_not_a_plain_colour(colour):
    with pytest.raises(ValueError, match="colour"):
        Series("s", [1], colour)


def test_an_empty_chart_says_so():
    html = Chart(title="Nothing", x=[], step=HOUR, series=[], empty="No logs in this range.").render()

    assert "No logs in this range." in html
    assert "<svg" not in html


def test_a_score_trend_is_a_line_on_a_fixed_scale_broken_where_a_value_is_missing():
    weeks = [MONDAY + timedelta(weeks=w) for w in range(6)]
    chart = Chart(
        title="Mathematics",
        x=weeks,
        step=timedelta(weeks=1),
        series=[Series("score", [62, 70.5, None, 74, 80, 78], "#1565c0")],
        kind="lines",
        y_range=(0, 100),
    )

    html = chart.render()

    assert texts(html, "vchart-grid") == ["0", "20", "40", "60", "80", "100"]
    assert html.count("<polyline") == 2  # the missing week breaks the line
    assert html.count("<circle") == 5
    assert "score 70.5" in html  # a point's tooltip
    assert "score: from 62.0 to 80.0, last 78.0 at Mon 21 Dec 2026." in chart.summary()


def test_a_distribution_has_a_category_axis():
    bands = ["0-20 %", "20-40 %", "40-60 %", "60-80 %", "80-100 %"]

    html = Chart(title="Risk", x=bands, series=[Series("students", [40, 25, 12, 6, 2], "#6a1b9a")]).render()

    assert texts(html, "vchart-x") == bands
    assert html.count('class="vchart-bar"') == 5


def test_dates_are_a_time_axis_of_days():
    days = [date(2026, 11, 17) + timedelta(days=i) for i in range(90)]  # from a Tuesday
    chart = Chart(title="Requests per day", x=days, series=[Series("n", [i % 3 for i in range(90)], "#000")])

    html = chart.render()
    assert chart.is_time and chart.step == timedelta(days=1)
    assert chart.label_of(0) == "Tue 17 Nov 2026" and chart.label_of(89) == "Sun 14 Feb 2027"
    # Every other Monday (a week from a Tuesday is never one), naming the year; the days are
    # named in their bars' middles, so the axis's end (15 Feb, no bar) has no label.
    assert texts(html, "vchart-x") == ["23 Nov 2026", "7 Dec", "21 Dec", "4 Jan 2027", "18 Jan", "1 Feb"]
    assert html.count('class="vchart-bar"') == 60  # one per day with requests


def test_a_week_of_days_names_each_day_under_its_bar():
    days = [date(2026, 11, 17) + timedelta(days=i) for i in range(7)]
    context = Chart(title="t", x=days, series=[Series("n", [1] * 7, "#000")]).context()

    labels = context["x_labels"]
    assert [label["text"] for label in labels] == [
        "Tue 17 Nov",
        "Wed 18 Nov",
        "Thu 19 Nov",
        "Fri 20 Nov",
        "Sat 21 Nov",
        "Sun 22 Nov",
        "Mon 23 Nov",
    ]
    bars = [group["rects"][0] for group in context["groups"]]
    for label, bar in zip(labels, bars, strict=True):
        assert abs(float(label["x"]) - (float(bar["x"]) + float(bar["width"]) / 2)) < 0.1


def test_it_renders_itself_in_a_template():
    html = Template("{{ chart }}").render(Context({"chart": hourly(3)}))

    assert "<svg" in html and "&lt;svg" not in html
    assert "veritas/chart.css" in html


def test_it_refuses_data_it_cannot_draw():
    with pytest.raises(ValueError, match="step"):
        Chart(title="t", x=[MONDAY], series=[Series("n", [1], "#000")])
    with pytest.raises(ValueError, match="ascending"):
        Chart(title="t", x=[MONDAY + HOUR, MONDAY], step=HOUR, series=[Series("n", [1, 2], "#000")])
    with pytest.raises(ValueError, match="values"):
        Chart(title="t", x=[MONDAY], step=HOUR, series=[Series("n", [1, 2], "#000")])
    with pytest.raises(ValueError, match=">= 0"):
        Chart(title="t", x=[MONDAY], step=HOUR, series=[Series("n", [-1], "#000")])
