"""The core audit trail (veritas/audit.py, ActionLog): append-only in the ORM and in the
database, pruned only by retention, scoped per reader, and carrying where a write came from
(request id and client address in a request; the command outside one)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path
from django.utils import timezone

from dashboard import services
from dashboard.apps import ADMINISTRATORS
from dashboard.models import Cohort, Student
from tests.helpers import aged_audit_entries
from veritas import audit
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db

TABLE = ActionLog._meta.db_table


def write_view(request):
    """A write as any app's service records it (for the request tests)."""
    audit.record("create", model=Student, object_id="42", object_repr="probe")
    return HttpResponse(status=201)


urlpatterns = [path("api/v1/probe/", write_view), path("admin/probe/", write_view)]


@pytest.fixture
def entry(owner):
    return audit.record("update", actor=owner, model=Student, object_id="1", changes={"before": {}, "after": {}})


def raw(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


class TestAppendOnly:
    def test_saving_an_existing_entry_is_refused(self, entry):
        entry.verb = "delete"
        with pytest.raises(PermissionDenied):
            entry.save()
        assert ActionLog.objects.get(pk=entry.pk).verb == "update"

    def test_a_queryset_update_is_refused(self, entry):
        with pytest.raises(PermissionDenied):
            ActionLog.objects.filter(pk=entry.pk).update(verb="delete")
        with pytest.raises(PermissionDenied), transaction.atomic():
            ActionLog.objects.bulk_update([entry], ["verb"])
        assert ActionLog.objects.get(pk=entry.pk).verb == "update"

    def test_deleting_is_refused_in_the_orm(self, entry):
        with pytest.raises(PermissionDenied):
            entry.delete()
        with pytest.raises(PermissionDenied):
            ActionLog.objects.filter(pk=entry.pk).delete()
        assert ActionLog.objects.filter(pk=entry.pk).exists()

    def test_the_database_refuses_a_raw_update(self, entry):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            raw(f"UPDATE {TABLE} SET verb = 'delete' WHERE id = %s", [entry.pk])  # noqa: S608
        assert ActionLog.objects.get(pk=entry.pk).verb == "update"

    def test_the_trigger_is_installed_on_the_table(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [TABLE])
            assert [row[0] for row in cursor.fetchall()] == ["veritas_actionlog_no_update"]

    def test_deleting_the_actor_keeps_their_entries(self, make_user):
        user = make_user("leaver")
        recorded = audit.record("create", actor=user, model=Student, object_id="7")
        user_id = user.pk

        user.delete()

        kept = ActionLog.objects.get(pk=recorded.pk)
        assert kept.actor_id == user_id  # the id stays (no constraint, nothing cascades)
        assert kept.actor_name == "leaver"


class TestPrune:
    @pytest.fixture
    def aged(self):
        return aged_audit_entries(10, 100, 400, 800)

    def test_a_dry_run_counts_and_deletes_nothing(self, aged):
        assert audit.prune(aged - timedelta(days=365), dry_run=True) == 2
        assert ActionLog.objects.count() == 4

    def test_it_deletes_only_the_older_entries(self, aged):
        assert audit.prune(aged - timedelta(days=365)) == 2
        assert sorted(ActionLog.objects.values_list("verb", flat=True)) == ["v10", "v100"]


class TestVisibility:
    """Scoped by the dashboard's register (its students are the scope of its entries)."""

    @pytest.fixture
    def cast(self, make_user):
        users = {
            name: make_user(name, is_staff=name != "pupil")
            for name in ("teacher", "coteacher", "otherteacher", "head", "pupil")
        }
        users["head"].groups.add(Group.objects.get(name=ADMINISTRATORS))
        students = {}
        for name, staff in (("a", ["teacher", "coteacher"]), ("b", ["otherteacher"])):
            cohort = Cohort.objects.create(name=name, term="2026")
            cohort.staff.add(*(users[u] for u in staff))
            students[name] = Student.objects.create(
                external_id=name, name=name, email=f"{name}@example.com", user=users["pupil"] if name == "a" else None
            )
            cohort.students.add(students[name])
        return users, students

    @pytest.fixture
    def trail(self, cast):
        """Entries about each cohort's student, by their own teachers and an administrator."""
        users, students = cast
        quiz = {"kind": "quiz", "subject": "Math", "score": 7, "taken_at": timezone.now()}
        services.record_assessment(actor=users["teacher"], student=students["a"], data=quiz)
        services.record_assessment(actor=users["head"], student=students["a"], data=quiz)
        services.record_assessment(actor=users["otherteacher"], student=students["b"], data=quiz)
        services.save_module(actor=users["head"], data={"subject": "Math", "code": "ALG1", "name": "Algebra"})
        return ActionLog.objects.all()

    def test_the_holder_of_view_actionlog_sees_everything(self, trail, make_user):
        auditor = make_user("auditor", is_staff=True)
        auditor.user_permissions.add(Permission.objects.get(codename="view_actionlog"))
        auditor = type(auditor).objects.get(pk=auditor.pk)  # a fresh permission cache

        assert ActionLog.objects.visible_to(auditor).count() == trail.count() == 4

    def test_a_teacher_sees_their_own_entries_and_those_about_their_students(self, trail, cast):
        users, students = cast
        mine = ActionLog.objects.visible_to(users["teacher"])
        assert sorted(mine.values_list("actor_name", "scope_id")) == [
            ("head", students["a"].pk),
            ("teacher", students["a"].pk),
        ]
        # The colleague wrote nothing, and sees the same entries through the shared cohort.
        assert set(ActionLog.objects.visible_to(users["coteacher"])) == set(mine)

    def test_the_other_cohorts_teacher_sees_only_their_students_entries(self, trail, cast):
        users, students = cast
        assert list(ActionLog.objects.visible_to(users["otherteacher"]).values_list("actor_name", "scope_id")) == [
            ("otherteacher", students["b"].pk)
        ]

    def test_staff_see_their_own_entries_without_a_scope(self, trail, make_user):
        editor = make_user("editor", is_staff=True)
        audit.record("create", actor=editor, model=Student, object_id="9")

        assert [e.actor_name for e in ActionLog.objects.visible_to(editor)] == ["editor"]

    def test_non_staff_see_nothing_even_about_themselves(self, trail, cast, stranger):
        users, _ = cast
        assert not ActionLog.objects.visible_to(users["pupil"]).exists()
        assert not ActionLog.objects.visible_to(stranger).exists()

    def test_an_inactive_teacher_sees_nothing(self, trail, cast):
        teacher = cast[0]["teacher"]
        teacher.is_active = False
        teacher.save()

        assert not ActionLog.objects.visible_to(teacher).exists()


@pytest.mark.urls(__name__)
class TestWhereAWriteCameFrom:
    def test_an_api_request_records_its_id_and_the_client_address(self, client):
        response = client.post("/api/v1/probe/", HTTP_X_REQUEST_ID="req-abcdef123456", REMOTE_ADDR="203.0.113.9")

        assert response.status_code == 201
        recorded = ActionLog.objects.get()
        assert (recorded.via, recorded.request_id) == ("api", "req-abcdef123456")
        assert recorded.client_address == "203.0.113.9"
        assert recorded.actor_name == "system"

    def test_an_admin_request_is_marked_as_the_admins(self, client):
        response = client.post("/admin/probe/", REMOTE_ADDR="198.51.100.7")

        recorded = ActionLog.objects.get()
        assert (recorded.via, recorded.client_address) == ("admin", "198.51.100.7")
        assert recorded.request_id == response["X-Request-ID"]

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(self, client):
        client.post("/api/v1/probe/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.44")

        assert ActionLog.objects.get().client_address == "192.0.2.44"

    def test_outside_a_request_the_context_is_gone(self, client):
        client.post("/api/v1/probe/", REMOTE_ADDR="203.0.113.9")

        later = audit.record("create", model=Student, object_id="43")

        assert (later.via, later.request_id, later.client_address) == ("system", "", None)

    def test_a_command_records_itself_and_the_operating_system_user(self):
        with audit.command("import_students"):
            recorded = audit.record("import", model=Student, changes={"counts": {"created": 3}})

        assert recorded.via == "command"
        assert recorded.actor is None
        assert recorded.actor_name.endswith(" (manage.py import_students)")
        assert recorded.request_id == ""
