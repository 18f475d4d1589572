"""Veritas settings: everything comes from the environment (or an optional ``.env``).

``.env.example`` lists every variable. Helpers are strict: a malformed value fails at
start-up with the variable's name, never silently.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from veritas.embedded import cluster_for
from veritas.secrets import mask_url_passwords

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The environment wins over the file. VERITAS_ENV_FILE="" reads no file (tests of defaults).
_env_file = os.environ.get("VERITAS_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file:
    environ.Env.read_env(_env_file, overwrite=False)

# Safe by default: DEBUG is off unless set. `make` writes a development `.env` with DEBUG=true
# and a random SECRET_KEY on first use (see the Makefile); production sets neither there.
DEBUG = env.bool("DEBUG", default=False)

# The development key only ever exists in DEBUG: a production start without a real key fails.
_DEVELOPMENT_SECRET_KEY = "django-insecure-development-only-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEVELOPMENT_SECRET_KEY if DEBUG else "")
if not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to 50 or more random characters when DEBUG is false, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'. For development set DEBUG=true "
        "(delete .env and run `make run` to have one written)."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must be set when DEBUG is false: the host names Veritas is served under, "
        "comma-separated (e.g. ALLOWED_HOSTS=veritas.example.org)."
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "veritas.views.csrf_failure"

INSTALLED_APPS = [
    "veritas.apps.VeritasConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks_db",
    "axes",
    "monitoring",
    "dashboard",
    "dropout",
    "chat",
    "research",
    "frames",
]

MIDDLEWARE = [
    "veritas.request_id.RequestIDMiddleware",
    "veritas.audit.AuditMiddleware",
    "research.middleware.ResearchAuditMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "veritas.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes requires.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "veritas.urls"
WSGI_APPLICATION = "veritas.wsgi.application"
AUTH_USER_MODEL = "veritas.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------------------
# DATABASE_URL set: that server, never the embedded one. Unset: the embedded PostgreSQL
# 16 + pgvector under VERITAS_DATA_DIR, started on the first connection that needs it.
VERITAS_DATA_DIR = env.path("VERITAS_DATA_DIR", default=BASE_DIR / ".data")
VERITAS_DB_START_TIMEOUT = env.float("VERITAS_DB_START_TIMEOUT", default=120.0)
# Lower-case: not a setting, so Django's debug pages (which list UPPER-CASE settings) never
# show it; the parsed password lands in DATABASES as PASSWORD, which they mask.
_database_url = env.str("DATABASE_URL", default="")
DB_CONNECT_TIMEOUT = env.int("DB_CONNECT_TIMEOUT", default=5)

if _database_url:
    try:
        _default_db = dj_database_url.parse(
            _database_url,
            conn_max_age=env.int("DB_CONN_MAX_AGE", default=60),
            conn_health_checks=True,
            ssl_require=env.bool("DB_SSL_REQUIRE", default=False),
            disable_server_side_cursors=env.bool("DB_DISABLE_SERVER_SIDE_CURSORS", default=False),
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {mask_url_passwords(str(exc))}") from None
else:
    _default_db = cluster_for(VERITAS_DATA_DIR).django_settings(env.str("VERITAS_DB_NAME", default="veritas"))
    _default_db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    _default_db["CONN_HEALTH_CHECKS"] = True
# A bounded connect timeout: an unreachable database answers 503 quickly, never a hang.
_default_db.setdefault("OPTIONS", {}).setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
DATABASES = {"default": _default_db}

# Tracebacks in DEBUG pages and error reports: settings and local variables whose names
# suggest secrets, and passwords inside URLs, are masked (veritas/debug.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "veritas.debug.SafeExceptionReporterFilter"

# Per-process cache. Nothing that must hold across processes (rate limits, locks) may
# rely on it: such state lives in PostgreSQL tables of its own.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- background tasks (Django 6 tasks framework, django-tasks-db backend) ----------------
TASKS = {"default": {"BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend")}}

# --- authentication -----------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes: after AXES_FAILURE_LIMIT failed logins for one username from one address,
# that pair is refused until the cool-off has passed (never a permanent lock).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# The locked-out page: the admin's look, the cool-off in minutes, status 429.
AXES_LOCKOUT_CALLABLE = "veritas.views.login_locked"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The client address behind reverse proxies (veritas/net.py), for lockouts and audit entries.
# Without either setting X-Forwarded-For is ignored (a client can send anything there).
AXES_CLIENT_IP_CALLABLE = "veritas.net.client_ip"
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network.") from None
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 (no proxy) or the number of proxies in front.")

# How long a looked-up personal token stays in the cache (0: look it up every request).
# Revoking clears it at once; a deactivated user is refused within this many seconds.
TOKEN_CACHE_SECONDS = env.int("TOKEN_CACHE_SECONDS", default=15)

# --- API ------------------------------------------------------------------------------------
API_MAX_PAGE_SIZE = 500
# Writes (POST, PUT, PATCH, DELETE) per user and minute before 429, counted in PostgreSQL
# (veritas/ratelimit.py) so the limit holds across processes; 0: no limit. Reads are not
# limited by Veritas (do that at the load balancer).
API_USER_WRITES_PER_MINUTE = env.int("API_USER_WRITES_PER_MINUTE", default=600)
# The longest a database statement of a web request may run before it is cancelled (the
# request answers 503); 0: no limit. Web processes only: commands and workers are not
# limited. Behind a transaction-mode pooler set it on the role instead (docs/operations.md).
DB_STATEMENT_TIMEOUT_SECONDS = env.float("DB_STATEMENT_TIMEOUT_SECONDS", default=30.0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that a request without credentials gets 401 with WWW-Authenticate.
        "veritas.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # JSON only, size-limited (DRF reads JSON bodies without Django's upload limit).
    "DEFAULT_PARSER_CLASSES": ["veritas.api.parsers.JSONParser"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["veritas.api.throttling.UserWriteRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "veritas.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["veritas.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "veritas.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Veritas API",
    "DESCRIPTION": "One API for monitoring, dashboard, dropout risk, chat, research and FRAMES.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "HealthStatusEnum": "monitoring.models.Status",
        "LogLevelEnum": "monitoring.models.Level",
        "DraftStatusEnum": "dashboard.models.DraftStatus",
        "AssessmentKindEnum": "dashboard.models.AssessmentKind",
        "ResearchJobKindEnum": "research.models.JobStatus.Kind",
        "ResearchJobStatusEnum": "research.models.JobStatus.Status",
        "FramesLevelEnum": "frames.models.Level",
        "FramesEntityKindEnum": "frames.models.EntityKind",
        "FramesModuleStatusEnum": "frames.models.Module.Status",
        "FramesProgressStatusEnum": "frames.models.ModuleProgress.Status",
        "FramesStudentStatusEnum": "frames.models.Student.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "veritas.api.schema.add_error_responses",
    ],
}
# --- monitoring ----------------------------------------------------------------------------
# Health evaluation (monitoring/services.py): error rate = (error + critical) / all logs
# of a source over the window; a worse status is adopted once it has persisted for
# DEBOUNCE_MINUTES; a source silent for SILENCE_MINUTES is UNKNOWN.
MONITORING_HEALTH = {
    "WINDOW_MINUTES": env.int("MONITORING_WINDOW_MINUTES", default=15),
    "WARNING_ERROR_RATE": env.float("MONITORING_WARNING_ERROR_RATE", default=0.05),
    "CRITICAL_ERROR_RATE": env.float("MONITORING_CRITICAL_ERROR_RATE", default=0.20),
    "MIN_LOGS": env.int("MONITORING_MIN_LOGS", default=10),
    "DEBOUNCE_MINUTES": env.int("MONITORING_DEBOUNCE_MINUTES", default=10),
    "SILENCE_MINUTES": env.int("MONITORING_SILENCE_MINUTES", default=60),
}
# How often `make worker` evaluates health (a chain of tasks that keeps two runs queued:
# monitoring/tasks.py).
MONITORING_HEALTH_INTERVAL_SECONDS = env.int("MONITORING_HEALTH_INTERVAL_SECONDS", default=60)
# Ingestion refuses a log dated more than this ahead of the server's clock (a client clock
# gone wrong); the tolerance covers ordinary clock skew.
MONITORING_MAX_FUTURE_SECONDS = env.int("MONITORING_MAX_FUTURE_SECONDS", default=300)

# --- dashboard -----------------------------------------------------------------------------
# Mastery (dashboard/performance.py), by the Canvas methods: the decaying average's weight of
# the newest score; n-mastery needs N scores at or above THRESHOLD percent. The stored
# performance records use them: after changing one, run `manage.py recompute_performance`.
# --- chat: embeddings and retrieval (docs/chat.md) ------------------------------------------
CHAT_EMBEDDING_BACKEND = env.str("CHAT_EMBEDDING_BACKEND", default="local")  # local | openai
CHAT_EMBEDDING_DIMENSIONS = env.int("CHAT_EMBEDDING_DIMENSIONS", default=384)
CHAT_EMBEDDING_BATCH = env.int("CHAT_EMBEDDING_BATCH", default=32)
CHAT_EMBEDDING_URL = env.str("CHAT_EMBEDDING_URL", default="")
CHAT_EMBEDDING_MODEL = env.str("CHAT_EMBEDDING_MODEL", default="")
CHAT_EMBEDDING_API_KEY = env.str("CHAT_EMBEDDING_API_KEY", default="")
CHAT_RRF_K = env.int("CHAT_RRF_K", default=60)
CHAT_MAX_UPLOAD_BYTES = env.int("CHAT_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
CHAT_GENERATOR = env.str("CHAT_GENERATOR", default="extractive")  # extractive | openai
CHAT_LLM_URL = env.str("CHAT_LLM_URL", default="")  # e.g. http://localhost:11434/v1 (Ollama)
CHAT_LLM_MODEL = env.str("CHAT_LLM_MODEL", default="")
CHAT_LLM_API_KEY = env.str("CHAT_LLM_API_KEY", default="")
CHAT_LLM_TIMEOUT = env.float("CHAT_LLM_TIMEOUT", default=60.0)  # seconds
CHAT_LLM_HISTORY = env.int("CHAT_LLM_HISTORY", default=6)  # earlier messages of the session sent along

# --- research (docs/research.md) ------------------------------------------------------------
# QAC inputs of more numbers than this (rows x columns) run as jobs in `make worker` (202).
RESEARCH_QAC_INLINE_MAX_VALUES = env.int("RESEARCH_QAC_INLINE_MAX_VALUES", default=250_000)
# The largest request body of a QAC fit or apply, or a vector upsert.
RESEARCH_MAX_BODY_BYTES = env.int("RESEARCH_MAX_BODY_BYTES", default=64 * 1024 * 1024)
# How often `make worker` runs the research retention (prune_research): daily.
RESEARCH_PRUNE_INTERVAL_SECONDS = env.int("RESEARCH_PRUNE_INTERVAL_SECONDS", default=24 * 3600)

DASHBOARD_MASTERY = {
    "DECAYING_WEIGHT": env.float("DASHBOARD_DECAYING_WEIGHT", default=0.65),
    "THRESHOLD": env.float("DASHBOARD_MASTERY_THRESHOLD", default=60.0),
    "N": env.int("DASHBOARD_N_MASTERY", default=3),
}

# --- security ---------------------------------------------------------------------------
# Django 6 Content Security Policy. The admin and the Swagger UI (served by the split view,
# with no inline script) work under it; inline styles are needed by Swagger UI.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health probes come from load balancers over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/"]

# --- uploads ----------------------------------------------------------------------------
# Bodies larger than this are refused with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# --- i18n / time ------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / ".data" / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

# --- logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "veritas.request_id.RequestIDFilter"}},
    "formatters": {
        "default": {
            "()": "veritas.secrets.MaskingFormatter",
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
    },
}

# --- development superuser (make run) -------------------------------------------------------
VERITAS_ADMIN_PASSWORD = env.str("VERITAS_ADMIN_PASSWORD", default="")
