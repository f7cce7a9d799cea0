"""Charla settings: read only from the environment (12-factor).

Every value has a default that works on a developer machine with PostgreSQL
and Redis on localhost. Production sets DEBUG=false, SECRET_KEY, ALLOWED_HOSTS
and PUBLIC_URL; see docs/operations.md for the full list.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-charla-secret-key-change-me-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
PUBLIC_URL = env.str("PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_URL])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "channels",
    "core",
    "accounts",
    "conversations",
    "knowledge",
    "campaigns",
    "bots",
    "reports",
]

MIDDLEWARE = [
    "core.logging.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.tenancy.AccountMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

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
                "core.context_processors.tenancy",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# Persistent connections through psycopg 3's pool: without it the bench lost
# 30-63 % of its throughput (docs/decisions.md).
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/charla"),
}
DATABASES["default"].setdefault("OPTIONS", {})
# psycopg prepares only the statements that ask for it (the send path's, see
# conversations/services/_send_lock.py): the ORM binds on the client, so its
# queries never repeat byte for byte and must not fill the connection's cache.
# (Django's default, None, turns preparing off altogether.)
DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 2**31 - 1)
if env.bool("DB_POOL", default=True):
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=2),
        "max_size": env.int("DB_POOL_MAX", default=20),
        "timeout": env.int("DB_POOL_TIMEOUT", default=10),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery broker --------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "core.channel_layer.CharlaChannelLayer",  # channels_redis pub/sub, batched publishing
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_PREFIX", default="charla")},
    }
}

CACHES = {
    "default": {
        "BACKEND": "core.cache.CharlaRedisCache",  # Django's, with its clients reused
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env.str("CACHE_PREFIX", default="charla"),
    }
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

# --- Auth ------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if env.bool("FAST_PASSWORD_HASHER", default=False):  # test runs only: hashing is the slow part
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
SESSION_COOKIE_SECURE = not DEBUG and PUBLIC_URL.startswith("https")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LOGIN_THROTTLE = {
    "per_ip": env.int("LOGIN_THROTTLE_PER_IP", default=20),
    "per_email": env.int("LOGIN_THROTTLE_PER_EMAIL", default=5),
    "window": env.int("LOGIN_THROTTLE_WINDOW", default=15 * 60),
}
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)

# --- I18N ------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media --------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# --- Email -----------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Charla <no-reply@charla.local>")

# --- API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Charla API",
    "DESCRIPTION": "Conversations, messages and team for Charla tenants.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc assets come from our static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
from datetime import timedelta  # noqa: E402

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "USER_ID_FIELD": "id",
}

# --- Logging -----------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "core.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "charla.request": {"level": "INFO"},
    },
}

# --- Product limits ------------------------------------------------------------
CHARLA = {
    "MESSAGE_MAX_CHARS": 10_000,
    "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "ATTACHMENT_TYPES": [
        "image/png", "image/jpeg", "image/gif", "image/webp",
        "application/pdf", "text/plain",
    ],
    "VISITOR_TOKEN_MAX_AGE": env.int("VISITOR_TOKEN_MAX_AGE", default=60 * 60 * 24 * 365),
    "PRESENCE_GRACE_SECONDS": env.int("PRESENCE_GRACE_SECONDS", default=10),
    "RATE_LIMIT_PER_CONNECTION": env.int("RATE_LIMIT_PER_CONNECTION", default=20),  # frames / 10 s
    "RATE_LIMIT_PER_CONTACT": env.int("RATE_LIMIT_PER_CONTACT", default=30),  # messages / 10 s
    "OFFLINE_EMAIL_INTERVAL": 10 * 60,
    "RATE_LIMIT_WINDOW_SECONDS": 10,
    "WS_MAX_FRAME_BYTES": 64 * 1024,
    "RESUME_MAX": 500,
    "WIDGET_SESSIONS_PER_MINUTE": env.int("WIDGET_SESSIONS_PER_MINUTE", default=60),
    "UPLOADS_PER_MINUTE": env.int("UPLOADS_PER_MINUTE", default=20),
}
