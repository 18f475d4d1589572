from django.apps import AppConfig
from django.db.models.signals import post_migrate

SUPPORT_STAFF = "Dropout risk staff"


def ensure_support_group(sender, **kwargs) -> None:
    """The "Dropout risk staff" group: every permission of the app. Members (student-support
    staff) see every enrolment, prediction and model, import events and train models; teaching
    staff need no group (they see the students of their cohorts). Kept up to date after each
    migrate."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name=SUPPORT_STAFF)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="dropout"))


class DropoutConfig(AppConfig):
    """Learning data from OULAD-format files, leak-free features, a trained risk model, predictions with reasons."""

    name = "dropout"
    verbose_name = "Dropout risk"

    def ready(self):
        post_migrate.connect(ensure_support_group, sender=self, dispatch_uid="dropout.support_staff")
