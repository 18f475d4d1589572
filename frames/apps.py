from django.apps import AppConfig


class FramesConfig(AppConfig):
    """Multi-university research analytics and the onboarding LMS."""

    name = "frames"
    verbose_name = "FRAMES"
