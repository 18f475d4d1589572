from django.apps import AppConfig


class DropoutConfig(AppConfig):
    """Learning events, engineered features, a dropout-risk model, predictions with reasons."""

    name = "dropout"
    verbose_name = "Dropout risk"
