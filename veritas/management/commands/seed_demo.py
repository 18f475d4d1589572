"""Load demo data: the core's, then each domain app's.

An app takes part by providing ``<app>/demo.py`` with ``seed(*, stdout) -> None``; it
must be idempotent (running ``make run`` again keeps all data and adds no duplicates).
"""

import importlib
import importlib.util

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create the development superuser and each app's demo data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("app_labels", nargs="*", help="Only these apps (default: all).")

    def handle(self, app_labels, **options):
        configs = [apps.get_app_config(label) for label in app_labels] if app_labels else apps.get_app_configs()
        for config in configs:
            module_name = f"{config.name}.demo"
            if importlib.util.find_spec(config.name) is None or importlib.util.find_spec(module_name) is None:
                continue
            module = importlib.import_module(module_name)
            with transaction.atomic():
                module.seed(stdout=self.stdout)
