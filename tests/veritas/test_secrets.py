import logging

import pytest
from django.test import override_settings
from django.urls import path
from django.views.debug import technical_500_response

from veritas.secrets import MaskingFormatter, mask_url_passwords


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://alice:s3cret@db/veritas", "postgresql://alice:********@db/veritas"),
        (
            "failed: postgres://u:p@ss:w@rd@host:5432/x?sslmode=require",
            "failed: postgres://u:********@host:5432/x?sslmode=require",
        ),
        ("host=db user=alice password=s3cret dbname=v", "host=db user=alice password=******** dbname=v"),
        ("password='with space' host=db", "password=******** host=db"),
        ("postgresql://alice@db/veritas (no password)", "postgresql://alice@db/veritas (no password)"),
    ],
)
def test_it_masks_passwords_in_urls_and_connection_strings(text, expected):
    assert mask_url_passwords(text) == expected


def test_log_lines_never_carry_a_password():
    formatter = MaskingFormatter("%(message)s")
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "cannot reach %s", ("postgresql://u:s3cret@db/v",), None
    )

    assert formatter.format(record) == "cannot reach postgresql://u:********@db/v"


# Built at run time: the page also shows source lines, which must not contain it either.
PASSWORD = "-".join(["pw", "5ecr3t"])


def leaky_view(request):
    database_url = f"postgresql://alice:{PASSWORD}@db.example.com/veritas"  # noqa: F841 (shown in the traceback)
    raise RuntimeError("boom")


urlpatterns = [path("leak/", leaky_view)]


@override_settings(DEBUG=True, ROOT_URLCONF=__name__)
def test_the_debug_error_page_masks_passwords_in_traceback_variables(rf):
    request = rf.get("/leak/")
    try:
        leaky_view(request)
    except RuntimeError as exc:
        response = technical_500_response(request, type(exc), exc, exc.__traceback__)

    page = response.content.decode()
    assert "db.example.com" in page, "the variable is shown"
    assert PASSWORD not in page
