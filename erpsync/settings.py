"""Settings for erpsync.

Two modes, chosen by the environment alone:
- embedded default (nothing set): SQLite under var/, Celery tasks run eagerly after commit,
  email written as files under var/mail/, the sandbox ERP adapter;
- production: DATABASE_URL, CELERY_BROKER_URL, EMAIL_URL, SECRET_KEY, ALLOWED_HOSTS, DEBUG.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from erpsync.config import (
    database_from_env,
    env_bool,
    env_int,
    env_list,
    env_rate,
    env_str,
    mailers_from_env,
    redis_url_from_env,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ERPSYNC_VAR_DIR", str(BASE_DIR / "var")))

DATABASES = {
    "default": database_from_env("DATABASE_URL", default_sqlite=VAR_DIR / "erpsync.sqlite3")
}
_EMBEDDED = DATABASES["default"]["ENGINE"].endswith("sqlite3")
if not _EMBEDDED:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if _EMBEDDED:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # SQLite serialises writers; a busy timeout turns "database is locked" into a short wait.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}

DEBUG = env_bool("DEBUG", _EMBEDDED)

SECRET_KEY = env_str("SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = "insecure-embedded-demo-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is false.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "erpsync",
    "projects",
    "subjobs",
    "jobs",
    "invoicing",
    "approvals",
    "accounts",
    "companysettings",
    "api",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # /api/v1/ only: Django's HTML error pages as problem details, and Idempotency-Key.
    "api.problems.ProblemResponses",
    "api.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "erpsync.middleware.AppErrorPages",
    # Last, as django-axes asks: it turns a lockout flagged during authentication into the page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "erpsync.urls"
WSGI_APPLICATION = "erpsync.wsgi.application"
ASGI_APPLICATION = "erpsync.asgi.application"

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

# Passwords: refused when like the user's name or email, short, common or all digits. Applies
# to the password change page, createsuperuser, changepassword and `seed_demo --password`.
PASSWORD_MIN_LENGTH = env_int("PASSWORD_MIN_LENGTH", 12, minimum=10)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes). Its backend comes first: it refuses a locked-out login before
# any password is checked, and every authenticate() call (login page, admin) goes through it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures are counted in the database (PostgreSQL in production and tests), shared by every
# gunicorn worker, and visible and deletable in the admin.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
# 0 minutes: a lockout lasts until an administrator resets it.
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 15, minimum=0)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES) if AXES_COOLOFF_MINUTES else None
# Counted per username and client address together: guessing one user's password from one
# address is stopped, but a stranger cannot lock a user out of their own office, and one
# colleague's typos do not lock everyone else behind the same office address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Only failures count towards the limit: a successful login starts the count again.
AXES_RESET_ON_SUCCESS = True
# Tries made while locked out are refused without being recorded, so the lockout ends the
# promised number of minutes after it began, even for a user who keeps trying meanwhile.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "accounts.network.client_ip"
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
ERPSYNC_PROXY_COUNT = env_int("ERPSYNC_PROXY_COUNT", 0, minimum=0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
if DEBUG:
    # WhiteNoise warns when STATIC_ROOT is missing; collectstatic makes it in production.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Pages load nothing from elsewhere: htmx and styles are served from our own static files.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Production hardening; each can be turned off for a TLS-terminating proxy setup.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True

# Email: Django 6.1's MAILERS, built from EMAIL_URL (files under var/mail/ by default).
MAILERS = mailers_from_env("EMAIL_URL", default_dir=VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "erpsync <erpsync@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Links in emails point here; the ERP Integrations Daily Summary goes out at this hour.
ERPSYNC_BASE_URL = env_str("ERPSYNC_BASE_URL", "http://127.0.0.1:8000")
ERP_DIGEST_HOUR = env_int("ERP_DIGEST_HOUR", 7, minimum=0)
if ERP_DIGEST_HOUR > 23:
    raise ImproperlyConfigured(f"ERP_DIGEST_HOUR={ERP_DIGEST_HOUR} must be at most 23.")
# Reminders of items waiting too long (and their escalation) go out at this hour, Monday to
# Friday.
ERP_REMIND_HOUR = env_int("ERP_REMIND_HOUR", 8, minimum=0)
if ERP_REMIND_HOUR > 23:
    raise ImproperlyConfigured(f"ERP_REMIND_HOUR={ERP_REMIND_HOUR} must be at most 23.")
# Accept and Reject links in emails work once, for this long (tests shorten the seconds).
ERP_EMAIL_LINK_DAYS = env_int("ERP_EMAIL_LINK_DAYS", 7, minimum=1)
ERP_EMAIL_LINK_MAX_AGE = ERP_EMAIL_LINK_DAYS * 24 * 60 * 60

# Celery: with no broker, tasks run eagerly (after commit, since services queue them on commit).
CELERY_BROKER_URL = redis_url_from_env("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL is None)
if CELERY_BROKER_URL is None and not CELERY_TASK_ALWAYS_EAGER:
    raise ImproperlyConfigured(
        "CELERY_TASK_ALWAYS_EAGER=false needs CELERY_BROKER_URL (redis://host:6379/0)."
    )
CELERY_TASK_EAGER_PROPAGATES = env_bool("CELERY_TASK_EAGER_PROPAGATES", True)
# Celery's Django fixup closes the database connection around every task unless told to reuse
# it; a new PostgreSQL connection per export would cost more than the export itself. A
# connection is still closed and reopened after this many tasks.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 500, minimum=0)
# Redis redelivers an unacknowledged task (its worker was killed) only after this long; every
# countdown stays below half of it, so a waiting retry is never delivered twice.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 300, minimum=60)

# The cache holds the API's rate-limit counts. Redis in production (CACHE_URL, else the broker's
# Redis), so every worker process shares one count; the local memory cache in the embedded
# default, where one process serves everything.
CACHE_URL = redis_url_from_env("CACHE_URL") or CELERY_BROKER_URL
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "erpsync",
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Exports: tries per accepted version, backoff between tries (doubling, with jitter, capped
# well below the visibility timeout so Redis never redelivers a waiting retry), the lease a
# worker holds on an item while it calls the ERP, and when the sweeper requeues an export.
ERP_EXPORT_MAX_TRIES = env_int("ERP_EXPORT_MAX_TRIES", 5, minimum=1)
ERP_EXPORT_BACKOFF_SECONDS = env_int("ERP_EXPORT_BACKOFF_SECONDS", 30, minimum=0)
ERP_EXPORT_BACKOFF_MAX_SECONDS = min(
    env_int("ERP_EXPORT_BACKOFF_MAX_SECONDS", 120, minimum=0), CELERY_VISIBILITY_TIMEOUT // 2
)
# A killed worker's export is taken up again within ERP_EXPORT_LEASE_SECONDS +
# ERP_SWEEP_EVERY_SECONDS (90 s by default); the lease must outlast the slowest ERP call.
ERP_EXPORT_LEASE_SECONDS = env_int("ERP_EXPORT_LEASE_SECONDS", 60, minimum=1)
# Most accepted items of one company that one export batch claims (erpsync.batch_exports).
ERP_EXPORT_BATCH = env_int("ERP_EXPORT_BATCH", 100, minimum=1)
ERP_SWEEP_AFTER_SECONDS = env_int("ERP_SWEEP_AFTER_SECONDS", 60, minimum=0)
ERP_SWEEP_EVERY_SECONDS = env_int("ERP_SWEEP_EVERY_SECONDS", 30, minimum=1)
# The email outbox: how long a worker's claim on an email lasts while it talks to the mail
# server, how many tries before an email is marked failed, and how often (and after how
# long) the sweeper sends what is still unsent.
ERPSYNC_EMAIL_LEASE_SECONDS = env_int("ERPSYNC_EMAIL_LEASE_SECONDS", 60, minimum=1)
ERPSYNC_EMAIL_MAX_TRIES = env_int("ERPSYNC_EMAIL_MAX_TRIES", 10, minimum=1)
ERPSYNC_EMAIL_SWEEP_SECONDS = env_int("ERPSYNC_EMAIL_SWEEP_SECONDS", 30, minimum=1)
# Event webhooks (README, Event webhooks): each POST's timeout and the worker's lease on it,
# the backoff between tries (doubling from the first wait up to the longest), when a delivery
# gives up, how often the sweeper queues due retries, and when a failing subscription is
# disabled: after that many tries in a row failed over at least that many hours (or at once
# on 410 Gone). During a secret rotation the previous secret signs too, for at most the hours
# given.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
WEBHOOK_LEASE_SECONDS = env_int("WEBHOOK_LEASE_SECONDS", 60, minimum=WEBHOOK_TIMEOUT_SECONDS + 5)
WEBHOOK_BACKOFF_SECONDS = env_int("WEBHOOK_BACKOFF_SECONDS", 60, minimum=1)
WEBHOOK_BACKOFF_MAX_SECONDS = env_int("WEBHOOK_BACKOFF_MAX_SECONDS", 3600, minimum=1)
WEBHOOK_GIVE_UP_HOURS = env_int("WEBHOOK_GIVE_UP_HOURS", 24, minimum=1)
WEBHOOK_SWEEP_SECONDS = env_int("WEBHOOK_SWEEP_SECONDS", 30, minimum=1)
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 20, minimum=1)
WEBHOOK_DISABLE_AFTER_HOURS = env_int("WEBHOOK_DISABLE_AFTER_HOURS", 24, minimum=0)
WEBHOOK_ROTATION_HOURS = env_int("WEBHOOK_ROTATION_HOURS", 72, minimum=1)
ERP_RECONCILE_HOUR = env_int("ERP_RECONCILE_HOUR", 2, minimum=0)
if ERP_RECONCILE_HOUR > 23:
    raise ImproperlyConfigured(f"ERP_RECONCILE_HOUR={ERP_RECONCILE_HOUR} must be at most 23.")

# The scheduled refresh (README, Refresh and payments): how often synced items are read back
# from ERPs that can (payments, cancellations), and how many items one round queues at most.
ERP_REFRESH_EVERY_SECONDS = env_int("ERP_REFRESH_EVERY_SECONDS", 3600, minimum=60)
ERP_REFRESH_BATCH = env_int("ERP_REFRESH_BATCH", 500, minimum=1)

# How often beat folds the rows of the state counts the database keeps (erpsync.counts): a
# count reads every row written since the last fold, about two per transition.
ERP_COUNTS_COMPACT_SECONDS = env_int("ERP_COUNTS_COMPACT_SECONDS", 60, minimum=1)

# Celery beat's static schedule (django-celery-beat does not support Django 6.1).
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "erp-sweep-exports": {
        "task": "erpsync.tasks.sweep_exports",
        "schedule": float(ERP_SWEEP_EVERY_SECONDS),
    },
    "erp-sweep-emails": {
        "task": "erpsync.tasks.sweep_emails",
        "schedule": float(ERPSYNC_EMAIL_SWEEP_SECONDS),
    },
    "webhooks-sweep": {
        "task": "webhooks.tasks.sweep_webhooks",
        "schedule": float(WEBHOOK_SWEEP_SECONDS),
    },
    "erp-compact-counts": {
        "task": "erpsync.tasks.compact_state_counts",
        "schedule": float(ERP_COUNTS_COMPACT_SECONDS),
    },
    "erp-refresh": {
        "task": "erpsync.tasks.refresh_synced",
        "schedule": float(ERP_REFRESH_EVERY_SECONDS),
    },
    "erp-reconcile-nightly": {
        "task": "erpsync.tasks.reconcile_erp",
        "schedule": crontab(minute=30, hour=ERP_RECONCILE_HOUR),
    },
    "erp-daily-summary": {
        "task": "approvals.tasks.send_daily_summary",
        "schedule": crontab(minute=0, hour=ERP_DIGEST_HOUR),
    },
    "erp-remind": {
        "task": "approvals.tasks.send_reminders",
        "schedule": crontab(minute=0, hour=ERP_REMIND_HOUR, day_of_week="mon-fri"),
    },
    # Replays only look 24 h back; this deletes what is older.
    "api-prune-idempotency": {
        "task": "api.tasks.prune_idempotency_records",
        "schedule": crontab(minute=15),
    },
}

# ERP adapters: key -> dotted path, imported when first used.
ERP_ADAPTERS = {
    "sandbox": "erpsync.adapters.sandbox.SandboxAdapter",
    "webhook": "erpsync.adapters.webhook.WebhookAdapter",
    "tryton": "erpsync.adapters.tryton.TrytonAdapter",
    "connector": "erpsync.adapters.connector.ConnectorAdapter",
}
ERP_DEFAULT_ADAPTER = env_str("ERP_DEFAULT_ADAPTER", "sandbox")
if ERP_DEFAULT_ADAPTER not in ERP_ADAPTERS:
    raise ImproperlyConfigured(
        f"ERP_DEFAULT_ADAPTER={ERP_DEFAULT_ADAPTER!r} is not one of {sorted(ERP_ADAPTERS)}."
    )

# The REST API (api/): personal tokens or the session (with CSRF), JSON only, problem details.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "api.permissions.TokenScope",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Per token, per user (all their tokens and their session together) and per address
    # without credentials; reads (GET, HEAD, OPTIONS) and writes counted apart (api.throttling).
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.TokenRateThrottle",
        "api.throttling.UserRateThrottle",
        "api.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token_read": env_rate("ERPSYNC_API_RATE_TOKEN_READ", "1200/min"),
        "token_write": env_rate("ERPSYNC_API_RATE_TOKEN_WRITE", "300/min"),
        "user_read": env_rate("ERPSYNC_API_RATE_USER_READ", "2400/min"),
        "user_write": env_rate("ERPSYNC_API_RATE_USER_WRITE", "600/min"),
        "anon": env_rate("ERPSYNC_API_RATE_ANON", "60/min"),
    },
    # The anonymous limit counts the client's address as the login lockout does.
    "NUM_PROXIES": ERPSYNC_PROXY_COUNT,
}
# How long a write waits for another request with the same Idempotency-Key to finish before
# it is answered 409 (api.idempotency).
ERPSYNC_IDEMPOTENCY_WAIT_SECONDS = env_int("ERPSYNC_IDEMPOTENCY_WAIT_SECONDS", 30, minimum=1)
SPECTACULAR_SETTINGS = {
    "TITLE": "erpsync API",
    "DESCRIPTION": (
        "Send, review, accept, reject and export ERP items; read the queues and the audit "
        "log. Authenticate with `Authorization: Bearer <token>` (a personal API token)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from the local static files (drf-spectacular-sidecar), no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the problems the platform may answer (401, 429, malformed
    # JSON, Idempotency-Key...), with their content type, whoever wrote the view.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.document_platform",
    ],
}

# With DEBUG on, show Django's technical 404 and 500 pages instead of the app's own.
ERPSYNC_TECHNICAL_ERROR_PAGES = env_bool("ERPSYNC_TECHNICAL_ERROR_PAGES", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
