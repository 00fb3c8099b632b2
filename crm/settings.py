"""Settings read from the environment.

With nothing set the project runs on the embedded default: SQLite, eager Celery and in-process
pub/sub, so a fresh clone shows a working CRM with one command. With DATABASE_URL and REDIS_URL set
it runs as in production.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="insecure-demo-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "auditlog",
    "crm",
    "customers",
    "sales",
    "tickets",
    "social",
    "callcenter",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crm.middleware.UserLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "crm.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
ASGI_APPLICATION = "crm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# A connection pool (psycopg_pool) instead of a new connection per request: under ASGI every request
# runs in its own thread, so CONN_MAX_AGE cannot keep connections; a pool hands them back and forth.
if IS_POSTGRES and env.bool("DATABASE_POOL", default=False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "customers:list"
LOGOUT_REDIRECT_URL = "login"

# Redis: broker, cache and pub/sub. Unset means the embedded default.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {}
CELERY_BEAT_SCHEDULE["sales-send-due-reminders"] = {"task": "sales.send_due_reminders", "schedule": 60.0}
# Tickets: SLA warnings, breaches and escalations every minute.
CELERY_BEAT_SCHEDULE["tickets-sla-sweep"] = {"task": "tickets.sla_sweep", "schedule": 60.0}
# Social: re-enqueue webhook events left pending (broker down, worker lost) every minute.
CELERY_BEAT_SCHEDULE["social-sweep-pending-events"] = {
    "task": "social.sweep_pending_events",
    "schedule": 60.0,
}
# Social: start scheduled broadcasts whose time has come.
CELERY_BEAT_SCHEDULE["social-broadcasts-start-due"] = {
    "task": "social.broadcasts_start_due",
    "schedule": 60.0,
}
# Customers: look for duplicate records once a night; move rows that reached a merged record late.
CELERY_BEAT_SCHEDULE["customers-duplicates-scan"] = {"task": "customers.duplicates_scan", "schedule": 86400.0}
CELERY_BEAT_SCHEDULE["customers-merge-sweep"] = {"task": "customers.merge_sweep", "schedule": 300.0}
# Reports: every lead score once a night, so that old engagement fades.
CELERY_BEAT_SCHEDULE["reports-recompute-all-scores"] = {
    "task": "reports.recompute_all_scores",
    "schedule": crontab(hour=3, minute=15),
}
# Tickets: read the support mailboxes (IMAP) every minute.
CELERY_BEAT_SCHEDULE["tickets-mail-poll"] = {"task": "tickets.mail_poll", "schedule": 60.0}
# Uploaded, error and exported customer files hold personal data: deleted this many days after the job.
CUSTOMERS_DATA_JOB_FILES_DAYS = env.int("CUSTOMERS_DATA_JOB_FILES_DAYS", default=30)
CELERY_BEAT_SCHEDULE["customers-data-job-files-purge"] = {
    "task": "customers.data_job_files_purge",
    "schedule": 24 * 3600.0,
}

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if env("EMAIL_HOST", default="")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="crm@localhost")

# Sales quotes and forecast: the seller's name on quotes, the default tax, and from which stage
# probability an open deal counts as "committed" in the forecast.
SALES_QUOTE_COMPANY = env("SALES_QUOTE_COMPANY", default="CRM Demo Co., Ltd.")
SALES_QUOTE_TAX_PERCENT = env.float("SALES_QUOTE_TAX_PERCENT", default=5.0)
SALES_COMMITTED_PROBABILITY = env.int("SALES_COMMITTED_PROBABILITY", default=70)
# Freeze each rep's forecast for the month (used for "past forecast vs actual"); idempotent, so daily.
CELERY_BEAT_SCHEDULE["sales-forecast-snapshot"] = {"task": "sales.forecast_snapshot", "schedule": 6 * 3600.0}

# Languages and time: stored in UTC, shown in Asia/Taipei unless the user chooses otherwise.
LANGUAGE_CODE = env("LANGUAGE_CODE", default="en")
LANGUAGES = [
    ("en", _("English")),
    ("zh-hant", _("Traditional Chinese")),
    ("zh-hans", _("Simplified Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="Asia/Taipei")
USE_I18N = True
USE_TZ = True

# Phone numbers without a country code are read in this region.
PHONENUMBER_DEFAULT_REGION = env("PHONENUMBER_DEFAULT_REGION", default="TW")
# The CTI event API's shared secret (X-CRM-Signature); unset means the API refuses every event.
CTI_SHARED_SECRET = env("CTI_SHARED_SECRET", default="")
# Click-to-call goes through "generic" (a signed webhook to CTI_ORIGINATE_URL) or "asterisk" (AMI Originate).
CTI_DIALER = env("CTI_DIALER", default="generic")
# Where the generic dialler POSTs originate requests, signed like the CTI event API.
CTI_ORIGINATE_URL = env("CTI_ORIGINATE_URL", default="")
# Asterisk Manager Interface: used by `manage.py cti_asterisk` and by the "asterisk" dialler.
CTI_ASTERISK_HOST = env("CTI_ASTERISK_HOST", default="127.0.0.1")
CTI_ASTERISK_PORT = env.int("CTI_ASTERISK_PORT", default=5038)
CTI_ASTERISK_USERNAME = env("CTI_ASTERISK_USERNAME", default="")
CTI_ASTERISK_SECRET = env("CTI_ASTERISK_SECRET", default="")
# Dialplan contexts where calls from the outside (trunks) start: those calls are inbound.
CTI_ASTERISK_INBOUND_CONTEXTS = env.list(
    "CTI_ASTERISK_INBOUND_CONTEXTS", default=["from-trunk", "from-pstn", "from-external"]
)
# A channel whose peer name matches this (PJSIP/101-0000002a -> "101") is an agent's phone.
CTI_ASTERISK_EXTENSION_PATTERN = env("CTI_ASTERISK_EXTENSION_PATTERN", default=r"\d{2,6}")
# Click-to-call rings the agent's phone on this channel, then dials the number in this context.
CTI_ASTERISK_CHANNEL_TEMPLATE = env("CTI_ASTERISK_CHANNEL_TEMPLATE", default="PJSIP/{extension}")
CTI_ASTERISK_CONTEXT = env("CTI_ASTERISK_CONTEXT", default="from-internal")
# How the number is dialled: "national" (0912345678 for numbers of PHONENUMBER_DEFAULT_REGION, others
# with CTI_ASTERISK_INTERNATIONAL_PREFIX instead of "+") or "e164" (+886912345678).
CTI_ASTERISK_DIAL_FORMAT = env("CTI_ASTERISK_DIAL_FORMAT", default="national")
CTI_ASTERISK_INTERNATIONAL_PREFIX = env("CTI_ASTERISK_INTERNATIONAL_PREFIX", default="+")
# Behind a reverse proxy that appends the client address to X-Forwarded-For.
TRUST_X_FORWARDED_FOR = env.bool("TRUST_X_FORWARDED_FOR", default=False)
# Whether sales reps also see every customer of their own team (managers always do).
CUSTOMERS_REPS_SEE_TEAM = env.bool("CUSTOMERS_REPS_SEE_TEAM", default=False)
# Customers with no interaction for this many months are listed for review (data retention).
CUSTOMERS_RETENTION_MONTHS = env.int("CUSTOMERS_RETENTION_MONTHS", default=24)
# Ticket attachments: the largest file accepted, in bytes.
TICKETS_ATTACHMENT_MAX_BYTES = env.int("TICKETS_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# The CRM's address as users reach it, for links in ticket e-mails sent by workers (no request there).
TICKETS_SITE_URL = env("TICKETS_SITE_URL", default="")
# Social channels: provider API bases (tests point them at local fake servers).
LINE_API_BASE = env("LINE_API_BASE", default="https://api.line.me")
LINE_DATA_API_BASE = env("LINE_DATA_API_BASE", default="https://api-data.line.me")
WECHAT_API_BASE = env("WECHAT_API_BASE", default="https://api.weixin.qq.com")
# Fernet key (urlsafe base64 of 32 bytes, or any passphrase) for channel credentials; default from SECRET_KEY.
CHANNEL_ENCRYPTION_KEY = env("CHANNEL_ENCRYPTION_KEY", default="")
# Webhook bodies larger than this are refused with 413 before any parsing.
SOCIAL_WEBHOOK_MAX_BYTES = env.int("SOCIAL_WEBHOOK_MAX_BYTES", default=1024 * 1024)
# Timeouts (seconds) for calls to the LINE and WeChat APIs.
SOCIAL_PROVIDER_TIMEOUT = env.float("SOCIAL_PROVIDER_TIMEOUT", default=10.0)
# Broadcasts: provider requests per second (LINE allows 200 multicasts a second; 0 means no limit).
SOCIAL_BROADCAST_REQUESTS_PER_SECOND = env.float("SOCIAL_BROADCAST_REQUESTS_PER_SECOND", default=100.0)
# The CRM's public https address: LINE fetches images the inbox and broadcasts send from there.
SOCIAL_PUBLIC_URL = env("SOCIAL_PUBLIC_URL", default="")
# Satisfaction surveys: sent when a ticket is solved; the link works for this many days.
TICKETS_CSAT_ENABLED = env.bool("TICKETS_CSAT_ENABLED", default=True)
TICKETS_CSAT_MAX_AGE_DAYS = env.int("TICKETS_CSAT_MAX_AGE_DAYS", default=14)
# Fernet key (urlsafe base64 of 32 bytes, or any passphrase) for the mailboxes' IMAP passwords; default from SECRET_KEY.
TICKETS_MAILBOX_KEY = env("TICKETS_MAILBOX_KEY", default="")

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor", BASE_DIR / "node_modules")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "crm.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM API",
    "DESCRIPTION": "Customers, timeline and the integrations of the CRM.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Two apps have a "channel" choice field: name the order's one so the schema's enum names are stable.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {"OrderChannelEnum": "sales.models.Order.Channel"}

GUARDIAN_RAISE_403 = True
ANONYMOUS_USER_NAME = None
AUDITLOG_INCLUDE_ALL_MODELS = False

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # WeasyPrint logs every layout step of every quote PDF at INFO.
        "weasyprint.progress": {"level": "WARNING"},
    },
}
