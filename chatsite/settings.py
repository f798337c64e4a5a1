"""Parley settings, read from the environment with safe defaults (see README's table)."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from chatsite.env import database_from_url, env_bool, env_choice, env_float, env_int, env_list, env_str, redis_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
# Keys that sign visitor tokens and sessions must be long and secret: a placeholder copied from an example
# would let anyone forge them.
MIN_SECRET_KEY_LENGTH = 50
PLACEHOLDER_SECRET_KEYS = {"change-me-to-50-random-characters", "parley-development-key-not-for-production"}
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is not set. Set it, or set DEBUG=1 for a development key.")
    SECRET_KEY = "parley-development-key-not-for-production"
elif not DEBUG and (
    SECRET_KEY in PLACEHOLDER_SECRET_KEYS
    or SECRET_KEY.startswith("django-insecure")
    or len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH
    or len(set(SECRET_KEY)) < 5
):
    raise ImproperlyConfigured(
        f"SECRET_KEY is a placeholder or too weak: use at least {MIN_SECRET_KEY_LENGTH} random characters "
        '(python -c "import secrets; print(secrets.token_urlsafe(50))").'
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first, so `runserver` is Daphne
    "chat",  # before channels, so its `runworker` (graceful SIGTERM) is the one that runs
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",  # failed sign-ins, per IP and username (PARLEY_LOGIN_RATE)
    "django_tasks",
    "django_tasks_db",  # the task queue's table; `manage.py db_worker` runs it (docs/deployment.md)
    "rest_framework",  # the public API under /api/v1/ (docs/api.md)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs' Swagger UI and Redoc, served from here rather than a CDN
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "chat.security.headers.DeskContentSecurityPolicyMiddleware",  # the desk's CSP, on every answer below it
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "chat.views.desk_language.DeskLanguageMiddleware",  # after auth: the agent's profile names the desk's language
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into 429
]
# django-axes' check first: it refuses a locked-out sign-in before a password is checked.
AUTHENTICATION_BACKENDS = ["chat.security.ratelimit.LoginThrottleBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.i18n",  # LANGUAGE_CODE for <html lang>
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Consumers run their ORM work on one thread per process, so keeping its connection open saves a
# PostgreSQL connection setup (a forked backend) on nearly every frame.
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
# Threads per process for the writes of sockets and workers (PostgreSQL; SQLite always uses one):
# a write mostly waits on the server, so a few in flight keep one slow commit from queueing the rest.
PARLEY_DB_THREADS = env_int("PARLEY_DB_THREADS", 4, minimum=1)
DATABASES = {
    "default": database_from_url(
        "DATABASE_URL",
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=DATABASE_CONN_MAX_AGE,
    ),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: in-memory for the one-process default, Redis when REDIS_URL is set.
REDIS_URL = redis_url("REDIS_URL", env_str("REDIS_URL")) if env_str("REDIS_URL") else ""
CHANNEL_LAYER_CAPACITY = env_int("CHANNEL_LAYER_CAPACITY", 1000, minimum=1)
CHANNEL_LAYER_EXPIRY = env_int("CHANNEL_LAYER_EXPIRY", 60, minimum=1)
CHANNEL_LAYER_GROUP_EXPIRY = env_int("CHANNEL_LAYER_GROUP_EXPIRY", 86400, minimum=60)
# Every key Parley keeps in Redis (channel layer, rate limits) starts with this.
REDIS_PREFIX = env_str("CHANNEL_LAYER_PREFIX", "parley")
# `core` (lists, capacity and expiry: the default) or `pubsub` (one PUBLISH per group send, for
# measuring; docs/deployment.md says why core is the default).
CHANNEL_LAYER_BACKEND = env_choice("CHANNEL_LAYER_BACKEND", "core", ("core", "pubsub"))
# redis-py 8 reads with a 5 s socket timeout by default, as long as the layer's 5 s blocking
# pops: a quiet channel would then fail its receive. Read longer.
_LAYER_HOSTS = [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}]
if REDIS_URL and CHANNEL_LAYER_BACKEND == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": _LAYER_HOSTS, "prefix": REDIS_PREFIX},
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": _LAYER_HOSTS,
                "prefix": REDIS_PREFIX,
                "capacity": CHANNEL_LAYER_CAPACITY,
                "expiry": CHANNEL_LAYER_EXPIRY,
                "group_expiry": CHANNEL_LAYER_GROUP_EXPIRY,
            },
        }
    }
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chat.realtime.memory_layer.SweptInMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_LAYER_CAPACITY, "expiry": CHANNEL_LAYER_EXPIRY},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/agent/"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves files straight from the finders, so `make run` needs no collectstatic;
# `collectstatic` also writes gzipped copies, which WhiteNoise (or nginx with gzip_static) serves.
WHITENOISE_USE_FINDERS = True


def _json_setting(name: str, default: str) -> dict:
    """A JSON object from the environment; anything else stops start-up."""
    import json

    text = env_str(name, default)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f'{name} must be a JSON object, like {{"bucket_name": "parley-files"}}.')
    return value


STORAGES = {
    # Attachments: on disk under MEDIA_ROOT, or any Django storage (django-storages' S3Storage, say) with its
    # options as JSON (docs/deployment.md, "Attachments").
    "default": {
        "BACKEND": env_str("PARLEY_FILE_STORAGE", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": _json_setting("PARLEY_FILE_STORAGE_OPTIONS", "{}"),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Attachments (docs/deployment.md, "Attachments"): on disk under MEDIA_ROOT by default, or any django-storages
# backend through STORAGES["default"]. Never served from a public path: only through signed links.
MEDIA_ROOT = env_str("MEDIA_ROOT", str(BASE_DIR / "media"))
PARLEY_ATTACHMENT_MAX_BYTES = env_int("PARLEY_ATTACHMENT_MAX_BYTES", 10_000_000, minimum=1000)
PARLEY_ATTACHMENT_MESSAGE_MAX_BYTES = env_int("PARLEY_ATTACHMENT_MESSAGE_MAX_BYTES", 25_000_000, minimum=1000)
PARLEY_ATTACHMENTS_PER_MESSAGE = env_int("PARLEY_ATTACHMENTS_PER_MESSAGE", 5, minimum=1)
# Types are told apart by their content (chat/security/file_types.py knows these six); SVG and HTML never.
PARLEY_ATTACHMENT_TYPES = env_list(
    "PARLEY_ATTACHMENT_TYPES", ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"]
)
# How long a link to a file works; clients get fresh links with every replay.
PARLEY_ATTACHMENT_LINK_MAX_AGE = env_int("PARLEY_ATTACHMENT_LINK_MAX_AGE", 3600, minimum=10)
# Behind nginx: Django checks access, then nginx sends the bytes from this internal location (X-Accel-Redirect).
PARLEY_ATTACHMENT_ACCEL_PREFIX = env_str("PARLEY_ATTACHMENT_ACCEL_PREFIX", "")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind our nginx: the scheme and host come from its headers, the client address from X-Forwarded-For.
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# HTTPS only, remembered by browsers for this long (0: off; turn on once every host serves HTTPS).
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# The Content-Security-Policy of the desk, the reports, the sign-in page and the admin: only this server's own
# scripts and styles, no framing. The widget frame and the help center set their own.
PARLEY_DESK_CSP = env_str(
    "PARLEY_DESK_CSP",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Client errors (4xx) are logged in one line, without the traceback of the exception that answered them.
    "filters": {"client_errors": {"()": "chat.security.logs.ClientErrorsInOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["client_errors"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # Its start-up banner and the "reset 0 attempts" lines of every sign-in; lockouts are warnings.
        "axes": {"level": "WARNING"},
    },
}

# --- Parley: wire limits (docs/protocol.md, section "Limits") ---
PARLEY_HELLO_TIMEOUT = env_float("PARLEY_HELLO_TIMEOUT", 10.0, minimum=0.1)
PARLEY_MAX_FRAME_BYTES = env_int("PARLEY_MAX_FRAME_BYTES", 64 * 1024, minimum=1024)
PARLEY_MAX_BODY_CHARS = env_int("PARLEY_MAX_BODY_CHARS", 4000, minimum=1)
PARLEY_SEND_RATE_COUNT = env_int("PARLEY_SEND_RATE_COUNT", 20, minimum=1)
PARLEY_SEND_RATE_WINDOW = env_int("PARLEY_SEND_RATE_WINDOW", 10, minimum=1)


# --- Parley: abuse limits (docs/deployment.md, "Limits") ---
def _rate(name: str, default: str) -> tuple[int, float]:
    """A rate "COUNT/SECONDS": at most COUNT in any SECONDS (a sliding window); a COUNT of 0 turns it off."""
    text = env_str(name, default)
    try:
        count, seconds = (part.strip() for part in text.split("/"))
        rate = int(count), float(seconds)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={text!r}: write it as COUNT/SECONDS, like {default!r}.") from None
    if rate[0] < 0 or rate[1] <= 0:
        raise ImproperlyConfigured(f"{name}={text!r}: COUNT must be 0 or more and SECONDS more than 0.")
    return rate


# Every process shares these budgets through Redis (per process without it). A refusal answers
# `error rate_limited` with `retry_after` on a socket, or 429 with Retry-After over HTTP.
# Minting visitors: a widget calls this once per page view, so an office behind one address needs room.
PARLEY_SESSION_IP_RATE = _rate("PARLEY_SESSION_IP_RATE", "60/60")
PARLEY_SESSION_SITE_RATE = _rate("PARLEY_SESSION_SITE_RATE", "600/60")
# Customer messages, besides PARLEY_SEND_RATE_COUNT per visitor: fresh visitors do not get fresh budgets.
PARLEY_SEND_IP_RATE = _rate("PARLEY_SEND_IP_RATE", "60/60")
PARLEY_SEND_SITE_RATE = _rate("PARLEY_SEND_SITE_RATE", "600/60")
# Bot replies a site may start (with AI_PROVIDER=openai, each is a paid model call). Beyond it a message is
# still stored and acknowledged; its reply ends `failed` at once, without a model call, and people take over.
PARLEY_BOT_SITE_RATE = _rate("PARLEY_BOT_SITE_RATE", "120/60")
# Per socket: typing relayed to agents (the widget relays at most every 2 s), read receipts, pings
# (each reads the database; the widget pings every 25 s).
PARLEY_TYPING_RATE = _rate("PARLEY_TYPING_RATE", "10/10")
PARLEY_READ_RATE = _rate("PARLEY_READ_RATE", "30/10")
PARLEY_PING_RATE = _rate("PARLEY_PING_RATE", "20/10")
# Per visitor, over both transports: resume, reply.stop, reply.feedback, handoff.request, SSE tickets and
# event streams opened.
PARLEY_CONTROL_RATE = _rate("PARLEY_CONTROL_RATE", "30/60")
# Files a customer uploads, per visitor.
PARLEY_UPLOAD_RATE = _rate("PARLEY_UPLOAD_RATE", "20/60")
# Open sockets and event streams together. Over the cap a socket closes with 4429, a stream gets 429. A
# connection counts until it closes, or until this many seconds pass without a ping (its process died).
PARLEY_CONNECTIONS_PER_VISITOR = env_int("PARLEY_CONNECTIONS_PER_VISITOR", 10, minimum=0)
PARLEY_CONNECTIONS_PER_IP = env_int("PARLEY_CONNECTIONS_PER_IP", 200, minimum=0)
PARLEY_CONNECTION_TTL = env_float("PARLEY_CONNECTION_TTL", 60.0, minimum=5.0)
# Failed sign-ins (desk and admin) per IP and username, counted by django-axes; then locked for SECONDS.
PARLEY_LOGIN_RATE = _rate("PARLEY_LOGIN_RATE", "5/900")
# The client of a request is REMOTE_ADDR, or with BEHIND_PROXY the last X-Forwarded-For entry (our nginx's).
AXES_ENABLED = PARLEY_LOGIN_RATE[0] > 0
AXES_FAILURE_LIMIT = max(1, PARLEY_LOGIN_RATE[0])
AXES_COOLOFF_TIME = PARLEY_LOGIN_RATE[1] / 3600  # hours
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures are what it is for; a row per successful sign-in is not
AXES_CLIENT_IP_CALLABLE = "chat.security.ratelimit.login_client_ip"
AXES_LOCKOUT_CALLABLE = "chat.security.ratelimit.login_locked_out"
# --- Parley: wire limits, continued ---
# A visitor token outlives a browser session so a returning customer keeps the thread.
PARLEY_VISITOR_TOKEN_MAX_AGE = env_int("PARLEY_VISITOR_TOKEN_MAX_AGE", 60 * 60 * 24 * 90, minimum=60)
# A verified visitor's token opens the account's history only this long after the identity hash was
# last checked; then the widget sends the hash again (Parley.identify), so a bare token soon stops working.
PARLEY_VERIFIED_SESSION_MAX_AGE = env_int("PARLEY_VERIFIED_SESSION_MAX_AGE", 60 * 60 * 24, minimum=60)
# A customer writing to a conversation resolved less than this ago reopens it; later starts a new one.
PARLEY_REOPEN_WINDOW = env_int("PARLEY_REOPEN_WINDOW", 60 * 60 * 24, minimum=0)
# An agent socket that has not pinged for this long no longer counts as present (a killed process).
PARLEY_PRESENCE_TTL = env_int("PARLEY_PRESENCE_TTL", 90, minimum=5)
# An agent offline this long (not just reloading the desk) gives their unattended conversations back.
PARLEY_RELEASE_GRACE = env_float("PARLEY_RELEASE_GRACE", 30.0, minimum=0.0)
# Typing relays at most this often per socket, unless the state flips.
PARLEY_TYPING_THROTTLE = env_float("PARLEY_TYPING_THROTTLE", 2.0, minimum=0.0)
# /metrics answers staff sessions, and scrapers that send `Authorization: Bearer <this>`.
PARLEY_METRICS_TOKEN = env_str("PARLEY_METRICS_TOKEN")
PARLEY_REPLAY_LIMIT = env_int("PARLEY_REPLAY_LIMIT", 500, minimum=10)

# --- Parley: the AI reply (docs/deployment.md) ---
AI_PROVIDER = env_str("AI_PROVIDER", "kb")
if AI_PROVIDER not in ("kb", "openai"):
    raise ImproperlyConfigured(f"AI_PROVIDER={AI_PROVIDER!r}: use kb (offline, the default) or openai.")
AI_BASE_URL = env_str("AI_BASE_URL", "https://api.openai.com/v1")
AI_MODEL = env_str("AI_MODEL", "gpt-4o-mini")
AI_API_KEY = env_str("AI_API_KEY")  # never logged, never sent to a browser
if AI_PROVIDER == "openai" and not AI_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"AI_BASE_URL={AI_BASE_URL!r} must be an http(s) URL.")
AI_SYSTEM_PROMPT = env_str(
    "AI_SYSTEM_PROMPT",
    # The tone only: the language, the articles, citations and the no-answer marker are added by the provider.
    "You are the friendly support assistant of an online shop. Answer in one to three short, plain sentences.",
)
AI_MAX_TOKENS = env_int("AI_MAX_TOKENS", 400, minimum=1)
AI_TIMEOUT = env_float("AI_TIMEOUT", 20.0, minimum=0.1)
# The offline provider types at this many characters per second (0: as fast as it can).
AI_TYPING_CPS = env_float("AI_TYPING_CPS", 120.0, minimum=0.0)
# Streaming: the first delta goes at once, later ones are coalesced over this many seconds.
PARLEY_DELTA_INTERVAL = env_float("PARLEY_DELTA_INTERVAL", 0.03, minimum=0.0)
PARLEY_CHECKPOINT_INTERVAL = env_float("PARLEY_CHECKPOINT_INTERVAL", 1.0, minimum=0.05)
# A reply whose worker has not checkpointed for this long is declared interrupted by the reaper;
# lease + reaper interval stays under the 30 s promise of the protocol.
PARLEY_REPLY_LEASE = env_float("PARLEY_REPLY_LEASE", 15.0, minimum=0.5)
PARLEY_REAPER_INTERVAL = env_float("PARLEY_REAPER_INTERVAL", 5.0, minimum=0.1)
# Without Redis there is one process: it runs the AI-reply consumer itself.
PARLEY_EMBEDDED_WORKER = env_bool("PARLEY_EMBEDDED_WORKER", not REDIS_URL)

# --- Parley: background tasks (docs/deployment.md, "Email and background tasks") ---
# django-tasks' database backend: a task is a row, `manage.py db_worker` runs them (or, without Redis, Daphne).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Without Redis there is one process: it runs the task worker itself, in a thread.
PARLEY_EMBEDDED_TASKS = env_bool("PARLEY_EMBEDDED_TASKS", not REDIS_URL)
# The embedded worker looks for due tasks this often (`db_worker --interval` for the separate process).
PARLEY_TASK_POLL_INTERVAL = env_float("PARLEY_TASK_POLL_INTERVAL", 1.0, minimum=0.05)
# A failed email is tried again this many times, after PARLEY_TASK_RETRY_DELAY seconds, then twice that, and so
# on (capped at PARLEY_TASK_RETRY_MAX_DELAY); the last failure stays FAILED in the admin's task results.
PARLEY_TASK_RETRIES = env_int("PARLEY_TASK_RETRIES", 5, minimum=0)
PARLEY_TASK_RETRY_DELAY = env_float("PARLEY_TASK_RETRY_DELAY", 30.0, minimum=0.0)
PARLEY_TASK_RETRY_MAX_DELAY = env_float("PARLEY_TASK_RETRY_MAX_DELAY", 3600.0, minimum=0.0)


# --- Parley: email (docs/deployment.md, "Email and background tasks") ---
def email_from_url(name: str, url: str) -> dict:
    """Django's EMAIL_* settings from a URL: smtp://user:pass@host:587?tls=1, smtps://…:465, console://, dummy://.

    The password never appears in an error: the message names the URL without it.
    """
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(url.strip())
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl() if "@" in parts.netloc else url
    hint = "use smtp://user:password@host:587?tls=1, smtps://user:password@host:465, console:// or dummy://"

    def bad(why: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"{name}={shown!r} {why}; {hint}.")

    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "dummy":
        return {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    if parts.scheme not in ("smtp", "smtps"):
        raise bad("is not an email URL")
    try:
        host, port = parts.hostname, parts.port
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    except ValueError:
        raise bad("has a bad port") from None
    if not host:
        raise bad("names no host")
    unknown = set(query) - {"tls", "ssl", "timeout"}
    if unknown:
        raise bad(f"has unknown options {', '.join(sorted(unknown))}")

    def flag(key: str) -> bool:
        if query.get(key, "0").lower() not in ("0", "1", "true", "false", "yes", "no", "on", "off", ""):
            raise bad(f"has {key}={query[key]!r}, not 1 or 0")
        return query.get(key, "0").lower() in ("1", "true", "yes", "on", "")

    use_ssl = parts.scheme == "smtps" or flag("ssl")
    use_tls = flag("tls")
    if use_ssl and use_tls:
        raise bad("asks for both SSL (smtps://) and STARTTLS (tls=1)")
    try:
        timeout = float(query.get("timeout", "10"))
    except ValueError:
        raise bad("has a timeout that is not a number") from None
    if timeout <= 0:
        raise bad("has a timeout that is not positive")
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": host,
        "EMAIL_PORT": port or (465 if use_ssl else 587 if use_tls else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),  # never logged
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_USE_TLS": use_tls,
        # A mail server that stops answering fails the attempt (and it is retried) instead of holding the worker.
        "EMAIL_TIMEOUT": timeout,
    }


# Under DEBUG (`make run`) and by default, email is printed on the console; set EMAIL_URL in production.
# Not kept as a setting of its own: the password would show in `diffsettings` under a name Django does not hide.
_email = email_from_url("EMAIL_URL", env_str("EMAIL_URL", "console://"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = _email.get("EMAIL_TIMEOUT", 10.0)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Parley <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL


def _public_url() -> str:
    """Links in emails start with this: PARLEY_PUBLIC_URL, else the first CSRF-trusted origin, else the dev server."""
    from urllib.parse import urlsplit

    url = env_str("PARLEY_PUBLIC_URL") or (CSRF_TRUSTED_ORIGINS[0] if CSRF_TRUSTED_ORIGINS else "")
    if not url:
        return f"http://127.0.0.1:{env_int('PORT', 8000, minimum=1)}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"PARLEY_PUBLIC_URL={url!r} must be an http(s) URL like https://chat.example.com.")
    return url.rstrip("/")


PARLEY_PUBLIC_URL = _public_url()
# An agent's answer the customer has not read this many seconds later is sent to their confirmed address.
PARLEY_EMAIL_FOLLOWUP_DELAY = env_int("PARLEY_EMAIL_FOLLOWUP_DELAY", 180, minimum=0)
# The link in a follow-up reopens the conversation for this long; a confirmation link works this long.
PARLEY_EMAIL_OPEN_MAX_AGE = env_int("PARLEY_EMAIL_OPEN_MAX_AGE", 60 * 60 * 24 * 30, minimum=60)
PARLEY_EMAIL_CONFIRM_MAX_AGE = env_int("PARLEY_EMAIL_CONFIRM_MAX_AGE", 60 * 60 * 24 * 7, minimum=60)


# --- Parley: the public API and webhooks (docs/api.md) ---
# Requests per API token (every process shares the budget through Redis, as the other limits do).
PARLEY_API_TOKEN_RATE = _rate("PARLEY_API_TOKEN_RATE", "600/60")
# Webhook URLs may not reach loopback, private, link-local or other non-public addresses: a site's manager
# could otherwise make Parley call into its own network. Only for trials on one machine (and the tests).
PARLEY_WEBHOOK_ALLOW_PRIVATE = env_bool("PARLEY_WEBHOOK_ALLOW_PRIVATE", False)
# Each delivery attempt gives up after this many seconds (connect, and each read); then it is retried.
PARLEY_WEBHOOK_TIMEOUT = env_float("PARLEY_WEBHOOK_TIMEOUT", 10.0, minimum=0.1)
# A failed delivery is tried again this many times, with the task retries' backoff (PARLEY_TASK_RETRY_DELAY).
PARLEY_WEBHOOK_RETRIES = env_int("PARLEY_WEBHOOK_RETRIES", 8, minimum=0)
# Each process remembers which sites have endpoints for this long: a message of a site without webhooks
# then costs no query. A new endpoint is heard of at once in its own process, in the others within this.
PARLEY_WEBHOOK_SITES_CACHE_SECONDS = env_float("PARLEY_WEBHOOK_SITES_CACHE_SECONDS", 10.0, minimum=0.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["chat.api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["chat.api.authentication.TokenScopePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["chat.api.authentication.ApiTokenThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["chat.api.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "chat.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": "Conversations, messages, contacts, articles and reports of the sites an agent serves.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "chat.api.errors.add_error_responses"],
}
