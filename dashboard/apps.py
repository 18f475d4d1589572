from django.apps import AppConfig
from django.db.models.signals import post_migrate

ADMINISTRATORS = "Dashboard administrators"


def ensure_administrators_group(sender, **kwargs) -> None:
    """The "Dashboard administrators" group: every permission of the app and the audit
    trail's view permission. Members see and write all students; teaching staff need no
    group (they see their cohorts). Kept up to date after each migrate."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name=ADMINISTRATORS)
    permissions = Permission.objects.filter(content_type__app_label="dashboard") | Permission.objects.filter(
        content_type__app_label="veritas", codename="view_actionlog"
    )
    group.permissions.add(*permissions)


class DashboardConfig(AppConfig):
    """Staff/student dashboard: students, cohorts, assessments, exact performance, drafts."""

    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self):
        from dashboard.models import Student
        from veritas import audit

        # Staff see the audit entries about the students they may see.
        audit.register_scope(Student, lambda user: Student.objects.visible_to(user).values("pk"))
        post_migrate.connect(ensure_administrators_group, sender=self, dispatch_uid="dashboard.administrators")
