from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """Staff/student dashboard: students, drafts, assessments, performance, action audit trail."""

    name = "dashboard"
    verbose_name = "Dashboard"
