"""The cost of the API stack: authenticated GET /api/v1/me/ with a bearer token, against a
plain Django view that returns the same JSON with Django's default middleware only.

Target (issue 2): token authentication adds under 1 ms per request. Measured with the
token cache on (the default, steady state) and, for scale, off. The baseline does no
database work; on this kind of VM one PostgreSQL round trip alone is ~0.4 ms.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.http import JsonResponse
from django.test import Client, override_settings
from django.urls import include, path

from veritas import keys
from veritas.models import PersonalToken

# What `django-admin startproject` puts in MIDDLEWARE.
DJANGO_DEFAULT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

_payload: dict = {}


def plain_me(request):
    return JsonResponse(_payload)


# The project's URLs plus the baseline view, so both clients share one URLconf.
urlpatterns = [path("plain/me/", plain_me), path("", include("veritas.urls"))]


@override_settings(ROOT_URLCONF=__name__)
def run(harness):
    User = get_user_model()
    user, _ = User.objects.get_or_create(username="bench", defaults={"email": "bench@example.com"})
    PersonalToken.objects.filter(user=user).delete()
    _token, value = PersonalToken.issue(user=user, name="bench")

    # Each client loads its middleware chain on its first request, under the settings
    # of that moment, and keeps it.
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {value}"}
    response = client.get("/api/v1/me/", **auth)
    assert response.status_code == 200, response.content
    _payload.clear()
    _payload.update(response.json())
    plain_client = Client()
    with override_settings(MIDDLEWARE=DJANGO_DEFAULT_MIDDLEWARE):
        assert plain_client.get("/plain/me/").json() == _payload

    harness.compare(
        "GET /api/v1/me/ (bearer token, full stack)",
        lambda: client.get("/api/v1/me/", **auth),
        "plain Django view, default middleware",
        lambda: plain_client.get("/plain/me/"),
        repeat=500,
        target="adds < 1 ms",
        check=lambda c: c.added_ms < 1.0,
    )

    with override_settings(TOKEN_CACHE_SECONDS=0):
        harness.compare(
            "same, token cache off (a query per request)",
            lambda: client.get("/api/v1/me/", **auth),
            "plain Django view, default middleware",
            lambda: plain_client.get("/plain/me/"),
            repeat=500,
            target="for scale: what the cache saves",
        )

    secret = value.split(".", 1)[1]
    digest = keys.hash_secret(secret)
    password_hash = make_password(secret)
    harness.compare(
        "verify a token secret (SHA-256)",
        lambda: keys.matches(secret, digest),
        "verify a password (Django's PBKDF2)",
        lambda: check_password(secret, password_hash),
        repeat=5,
        warmup=1,
        target="for scale: why tokens are not password-hashed",
    )
