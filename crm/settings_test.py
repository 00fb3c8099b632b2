"""Settings for the test suite: real PostgreSQL and Redis, as in production."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")

from .settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# One test database per test process, so that several runs on one machine never collide.
DATABASES["default"]["TEST"] = {"NAME": f"test_crm_{os.getpid()}"}  # noqa: F405

# Uploaded imports and exported files of a test run go to a throwaway directory, not the work tree.
MEDIA_ROOT = tempfile.mkdtemp(prefix="crm-test-media-")
