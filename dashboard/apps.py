from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """Staff/student dashboard: students, cohorts, assessments, exact performance, drafts."""

    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self):
        from dashboard.models import Student
        from veritas import audit

        # Staff see the audit entries about the students they may see.
        audit.register_scope(Student, lambda user: Student.objects.visible_to(user).values("pk"))
