from django.apps import AppConfig


class ResearchConfig(AppConfig):
    """The API for research institutions: keys, rate limits, audit, usage, models, vector stores, jobs."""

    name = "research"
    verbose_name = "Research API"
