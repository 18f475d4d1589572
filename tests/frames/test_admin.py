"""FRAMES in the admin: scoped as the API (another university's row is not found), the pages
beyond Django's own, and every write through the services (audited, refusals on the form)."""

import pytest
from django.contrib.auth.models import Group, Permission

from frames import lms, services
from frames.models import Module, ModuleAssignment, ModuleSection, Outcome, Student, Team
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(faculty):
    """``faculty`` with staff access and the model permissions a faculty group has."""
    group = Group.objects.create(name="FRAMES faculty")
    group.permissions.set(Permission.objects.filter(content_type__app_label="frames").exclude(codename="research"))
    faculty.is_staff = True
    faculty.save()
    faculty.groups.add(group)
    return type(faculty).objects.get(pk=faculty.pk)


@pytest.fixture
def signed_in(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def researcher_in(client, researcher):
    researcher.is_staff = True
    researcher.save()
    client.force_login(researcher)
    return client


def test_the_interface_list_shows_the_loss_of_the_callers_interfaces(signed_in, world, value, researcher):
    services.assign_factor_value(
        actor=researcher, interface=world["cross"], value=value("knowledge_type", "institutional")
    )
    services.assign_factor_value(actor=researcher, interface=world["cross"], value=value("bond_strength", "weak"))

    page = signed_in.get("/admin/frames/interface/").content.decode()

    assert "veritas-badge-level-critical" in page and "0.750" in page
    assert page.count('class="field-link"') == 2 and "Software (team) \u2192 PROVES team (team)" in page
    assert f"/admin/frames/interface/{world['elsewhere'].pk}/" not in page
    assert signed_in.get(f"/admin/frames/interface/{world['elsewhere'].pk}/change/").status_code == 302  # not found
    critical = signed_in.get("/admin/frames/interface/?level=critical&cross=yes").content.decode()
    assert f"/admin/frames/interface/{world['cross'].pk}/" in critical
    assert f"/admin/frames/interface/{world['internal'].pk}/" not in critical


def test_a_teams_continuity_page(signed_in, team, other_team, university):
    Student.objects.create(university=university, team=team, name="Leaving lead", is_lead=True, terms_remaining=1)
    Student.objects.create(university=university, team=team, name="Newcomer", terms_remaining=4)

    page = signed_in.get(f"/admin/frames/team/{team.pk}/continuity/")

    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="lead-at-risk"' in text and "Leaving lead" in text and "50" in text
    assert signed_in.get(f"/admin/frames/team/{other_team.pk}/continuity/").status_code == 404


def test_admin_writes_go_through_the_services(signed_in, university, other_university):
    response = signed_in.post(
        "/admin/frames/team/add/", {"university": university.pk, "name": "Power", "project": "", "discipline": ""}
    )
    assert response.status_code == 302 and Team.objects.filter(name="Power").exists()
    entry = ActionLog.objects.get(object_type="frames.team", verb="create")
    assert entry.via == "admin"

    refused = signed_in.post(
        "/admin/frames/outcome/add/",
        {"university": other_university.pk, "outcome_type": "mission_success", "success": "on", "notes": ""},
    )
    assert refused.status_code == 200 and not Outcome.objects.exists()  # the form shows why


def test_a_published_modules_sections_are_read_only_and_its_funnel_drawn(signed_in, university, pupil, staff):
    module = Module.objects.create(key="safety", title="Safety", university=university)
    ModuleSection.objects.create(module=module, order=1, title="Handling")
    lms.publish(actor=staff, module=module)
    ModuleAssignment.objects.create(module=module, student=Student.objects.get(user=pupil))

    page = signed_in.get(f"/admin/frames/module/{module.pk}/change/").content.decode()

    assert 'id="module-funnel-chart"' in page and "<svg" in page
    assert 'name="sections-0-title"' not in page  # no section is editable once published
    edit = signed_in.post(f"/admin/frames/module/{module.pk}/change/", {"title": "Changed"})
    assert edit.status_code in (200, 403) and Module.objects.get(pk=module.pk).title == "Safety"


def section(index: int, order: int, kind: str, title: str) -> dict:
    fields = {"order": order, "section_type": kind, "title": title, "content": "", "duration_minutes": 5}
    return {f"sections-{index}-{name}": value for name, value in fields.items()}


def test_a_draft_module_with_its_sections_from_the_admin(signed_in, university):
    response = signed_in.post(
        "/admin/frames/module/add/",
        {
            "key": "cubesat-basics", "title": "CubeSat basics", "category": "", "estimated_minutes": 30,
            "university": university.pk, "prerequisites": "", "tags": "",
            "sections-TOTAL_FORMS": 2, "sections-INITIAL_FORMS": 0,
            **section(0, 1, "text", "What"),
            **section(1, 2, "quiz", "Quiz"),
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    module = Module.objects.get(key="cubesat-basics")
    assert list(module.sections.values_list("title", flat=True)) == ["What", "Quiz"]
    assert ActionLog.objects.filter(object_type="frames.modulesection", verb="create").count() == 2


def test_a_models_page_has_its_weights_and_validation_table(researcher_in, baseline, valued_outcomes):
    services.validate_model(actor=valued_outcomes, model=baseline)

    page = researcher_in.get(f"/admin/frames/factormodel/{baseline.pk}/change/").content.decode()

    assert ('id="validation-table"' in page and "knowledge_type" in page.lower()) or "Knowledge" in page


@pytest.fixture
def valued_outcomes(researcher, world, university):
    Team.objects.filter(pk=world["internal"].from_id).update(project=world["own"])
    Outcome.objects.create(university=university, project=world["own"], outcome_type="mission_success", success=True)
    return researcher


def test_the_validation_table_shows_only_the_outcomes_one_may_see(signed_in, researcher, baseline, world):
    Team.objects.filter(pk=world["cross"].from_id).update(project=world["own"])
    Team.objects.filter(pk=world["cross"].to_id).update(project=world["theirs"])
    for project in (world["own"], world["theirs"]):
        Outcome.objects.create(
            university=project.university, project=project, outcome_type="mission_success", success=False
        )
    services.validate_model(actor=researcher, model=baseline)

    page = signed_in.get(f"/admin/frames/factormodel/{baseline.pk}/change/").content.decode()

    assert 'id="validation-table"' in page and "(1 outcomes you may see)" in page
    assert world["theirs"].name not in page


def test_an_invalid_inline_undoes_the_modules_write(signed_in, university):
    response = signed_in.post(
        "/admin/frames/module/add/",
        {
            "key": "half", "title": "Half", "category": "", "estimated_minutes": 30, "university": university.pk,
            "prerequisites": "", "tags": "", "sections-TOTAL_FORMS": 1, "sections-INITIAL_FORMS": 0,
            **section(0, 1, "text", ""),  # a section needs a title
        },
    )  # fmt: skip
    assert response.status_code == 200 and "errornote" in response.content.decode()
    assert not Module.objects.filter(key="half").exists()
    assert not ActionLog.objects.filter(object_type="frames.module").exists()


def test_the_admins_dropdowns_offer_only_the_callers_rows(signed_in, team, other_team):
    page = signed_in.get("/admin/frames/student/add/").content.decode()
    assert f'value="{team.pk}"' in page and other_team.name not in page


def test_a_popup_save_stays_written(signed_in, university):
    response = signed_in.post(
        "/admin/frames/team/add/?_to_field=id&_popup=1",
        {"university": university.pk, "name": "From a popup", "project": "", "discipline": "", "_popup": "1"},
    )
    assert response.status_code == 200 and "From a popup" in response.content.decode()
    assert Team.objects.filter(name="From a popup").exists()
