"""A faculty member's journey through FRAMES in the admin (on the demo consortium): the
interface list with its loss badges, a critical interface across universities, a team's
continuity page; a researcher's model page with its validation table and a module's funnel."""

import importlib
import io

import pytest

from frames import demo
from frames.models import Interface, Module, Team

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-browser-password"


@pytest.fixture
def consortium(settings):
    from django.apps import apps

    from frames.models import FactorModel

    if not FactorModel.objects.filter(name="baseline_v1").exists():  # flushed by an earlier transactional test
        importlib.import_module("frames.migrations.0002_baseline_model").seed(apps, None)
    settings.VERITAS_ADMIN_PASSWORD = PASSWORD
    demo.seed(stdout=io.StringIO())


def test_a_faculty_member_finds_a_critical_cross_university_interface_and_a_team_at_risk(
    live_server, page, admin_login, consortium, screenshot
):
    admin_login("faculty_cpp", PASSWORD)
    page.wait_for_selector("#site-name")

    page.goto(f"{live_server.url}/admin/frames/interface/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() > 0
    levels = rows.locator("td.field-loss_badge .veritas-badge").all_inner_texts()
    assert levels[0] == "critical"  # worst first
    screenshot("frames-interfaces")

    page.get_by_role("link", name="across universities", exact=True).click()
    page.get_by_role("link", name="Critical", exact=True).click()
    critical = page.locator("#result_list tbody tr")
    assert critical.count() > 0
    assert set(critical.locator("td.field-loss_badge .veritas-badge").all_inner_texts()) == {"critical"}
    assert critical.first.locator(".veritas-badge-cross").inner_text() == "cross-university"
    assert "cpp" in critical.first.locator("td.field-ends").inner_text()
    screenshot("frames-interfaces-critical-cross")
    critical.first.locator("th a").click()
    assert page.locator("#factor_values-group").inner_text().count("institutional") >= 1

    at_risk = next(t for t in Team.objects.filter(university__code="cpp") if _lead_at_risk(t))
    page.goto(f"{live_server.url}/admin/frames/team/")
    page.locator("#result_list tbody tr", has=page.get_by_text(at_risk.name, exact=True)).get_by_role(
        "link", name="continuity"
    ).click()
    page.locator("#lead-at-risk").wait_for()
    assert page.locator("#kpi-members").inner_text() == str(at_risk.members.filter(active=True).count())
    assert page.locator("#members-table tbody tr").count() == at_risk.members.filter(active=True).count()
    screenshot("frames-team-continuity")

    # Another university's team is not found.
    theirs = Team.objects.exclude(university__code="cpp").first()
    page.goto(f"{live_server.url}/admin/frames/team/{theirs.pk}/continuity/")
    assert "No such team" in page.content() or page.locator("h1").inner_text().startswith("Not Found")


def test_a_researcher_reads_a_models_validation_and_a_modules_funnel(
    live_server, page, admin_login, consortium, screenshot
):
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="researcher").update(is_staff=True)
    admin_login("researcher", PASSWORD)
    page.wait_for_selector("#site-name")

    page.goto(f"{live_server.url}/admin/frames/factormodel/")
    page.get_by_role("link", name="Baseline", exact=False).first.click()
    table = page.locator("#validation-table")
    table.wait_for()
    assert table.locator("tbody tr").count() == 56  # 8 universities x 7 cohorts
    assert page.locator("#weights-group").count() == 1
    screenshot("frames-model-validation")

    module = Module.objects.get(key="lab-safety")
    page.goto(f"{live_server.url}/admin/frames/module/{module.pk}/change/")
    chart = page.locator("#module-funnel-chart")
    chart.wait_for()
    assert chart.locator("svg").count() == 1
    assert "Safety quiz" in page.locator("#sections-group").inner_text()
    assert page.locator("input[name='sections-0-title']").count() == 0  # published: read-only
    screenshot("frames-module-funnel")
    assert not page.csp_violations


def _lead_at_risk(team) -> bool:
    from frames.selectors import team_continuity

    return team_continuity(team).lead_at_risk


def test_the_demo_has_a_critical_interface_across_universities(consortium):
    from frames.models import FactorModel

    model = FactorModel.objects.get(is_active=True)
    across = Interface.objects.with_loss(model).filter(cross_university=True, level="critical")
    assert across.filter(from_university__code="cpp").exists()
