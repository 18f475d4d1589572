import pytest
from django.contrib.auth.models import Permission


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="monitoring", codename__in=codenames))


@pytest.fixture
def writer(make_user):
    """A service account that may send logs, and nothing else."""
    user = make_user("log-shipper")
    grant(user, "add_monitoringlog")
    return user


@pytest.fixture
def reader(make_user):
    user = make_user("ops-reader")
    grant(user, "view_monitoringlog", "view_systemhealth", "view_healthtransition", "view_monitoringresult")
    return user
