"""Settings for the test run: the real settings, with a test-only key and a fast password hasher."""

import os

os.environ.setdefault("SECRET_KEY", "parley-tests-only-secret-key-" + "Vb7Nq2Lx9Kd4Rm8Tp3Wz" * 2)
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"parley-test-{os.getpid()}")

from chatsite.settings import *
from chatsite.settings import BASE_DIR, DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False

# Connections kept open in the consumers' worker thread would outlive each test and block dropping
# the test database; the real servers that integration tests start keep theirs (the shipped default).
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: consumers reach the database from worker threads, as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}

# In-process tests have no `runworker`: the consumer under test runs the AI worker itself,
# whichever channel layer is configured.
PARLEY_EMBEDDED_WORKER = True

# In-process tests run queued tasks themselves (chat.transports.task_runner.run_due_tasks); the servers that
# integration tests start run their own worker, as `make run` does.
PARLEY_EMBEDDED_TASKS = False

# Tests of releasing conversations watch the last tab close; the grace is tested on its own.
PARLEY_RELEASE_GRACE = 0
