"""Settings shared by every environment. Each setting carries a one-line why."""

import os
from pathlib import Path

from . import csp

# Repository root: templates, static files and the default SQLite file hang off it.
BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime state (SQLite file, locks, collected static files, the dev secrets) lives
# outside the code; TM_VAR_DIR moves it (tests run `make run`'s tm in a folder of theirs).
VAR_DIR = Path(os.environ.get("TM_VAR_DIR") or BASE_DIR / "var")

# Overridden in every environment; base keeps none so no secret is ever in the repo.
SECRET_KEY = ""
# Signs internal calls tm -> reflektor -> ekg/sotu (ARCHITECTURE.md, Internal API).
TM_INTERNAL_SECRET = ""
# Keys the hash of client addresses for rate limits; rotated daily (tm/clientkey.py).
TM_CLIENT_KEY_SECRET = ""
# Reverse proxies in front of tm (addresses or networks, comma-separated in the
# environment): only requests from these have their X-Forwarded-For believed.
TM_TRUSTED_PROXIES = [p.strip() for p in os.environ.get("TM_TRUSTED_PROXIES", "").split(",")
                      if p.strip()]

DEBUG = False
ALLOWED_HOSTS: list[str] = []

INSTALLED_APPS = [
    # First, so its registration/ templates win over the admin's.
    "tm",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "waffle",
    "csp",
]

MIDDLEWARE = [
    # Outermost: publishes the events a request committed once its answer has gone out.
    "tm.publish.PublishAfterResponse",
    "django.middleware.security.SecurityMiddleware",
    # Serves static files from gunicorn too, so one process is a whole site.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "waffle.middleware.WaffleMiddleware",
]

ROOT_URLCONF = "tm.urls"
WSGI_APPLICATION = "tm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tm.privacy.notice",
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "tm.sqlite3",
        # WAL lets readers run beside the one writer; busy timeout rides out short locks.
        # IMMEDIATE: a transaction takes the write lock at BEGIN, so two posts never
        # deadlock upgrading a read lock while each takes the room's next seq.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        # Keep each worker's connection: opening one costs more than a whole post
        # (Django registers its SQL functions, then the PRAGMAs run).
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": True,
    }
}

# Rooms and participants are cached with the object-caching pattern (Room.get).
CACHES = {
    "default": {
        "BACKEND": "tm.memcache.MemcachedCache",
        "LOCATION": "127.0.0.1:11211",
        "KEY_PREFIX": "tm",
        "TIMEOUT": 300,
    }
}
# Sessions in the database: a memcached restart must not sign every teacher out.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Browsers carry the participant token in a cookie: keep it from scripts and other sites.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # room.js reads it to send X-CSRFToken on fetch().
X_FRAME_OPTIONS = "DENY"  # the embed view lifts it for the room's allowed origins.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# django-ratelimit keeps its counters in this cache (tm/ratelimits.py calls it).
RATELIMIT_USE_CACHE = "default"
# Rate limits (tm/ratelimits.py). A school is one address: the per-address ("client",
# a salted address hash) rates are a ceiling against abuse that a whole school under
# one address does not reach; the ones a class meets are per participant and per room.
TM_RATE_POST_PER_PARTICIPANT = "10/m"  # one student: a post every 6 s, sustained
TM_RATE_REPORT_PER_PARTICIPANT = "30/m"  # reports by one student (each post once)
TM_RATE_JOIN_PER_ROOM = "600/m"  # a lecture hall of 600 joining in the same minute
TM_ROOM_CAPACITY = 1000  # participants one room holds (its teachers may always join)
# The longest a room lives from its creation, in days: what a teacher may choose, and
# what the purge enforces on rooms made under a longer limit (docs/retention.md).
TM_MAX_ROOM_DAYS = int(os.environ.get("TM_MAX_ROOM_DAYS", "365"))
# How long `fab backup` keeps a database dump (the rotate_backups command).
TM_BACKUP_KEEP_DAYS = int(os.environ.get("TM_BACKUP_KEEP_DAYS", "14"))
# A new room's language (tm/languages.py): its abuse check's word list.
TM_DEFAULT_ROOM_LANGUAGE = os.environ.get("TM_DEFAULT_ROOM_LANGUAGE", "en")
# Words and phrases the abuse check holds in every room, on top of the lists of the
# room's language (tm/screening.py), comma-separated: TM_SCREENING_WORDS="kys,unalive".
TM_SCREENING_WORDS = [w for w in os.environ.get("TM_SCREENING_WORDS", "").split(",") if w.strip()]
# A room's audit log (tm/audit.py) lives with the room; an entry goes sooner once it is
# this old (the purge removes it). docs/privacy.md has every retention period.
TM_AUDIT_RETENTION_DAYS = int(os.environ.get("TM_AUDIT_RETENTION_DAYS", "90"))
# The data controller the privacy notice names (the school or district running tm) and
# how to reach its data protection contact (an e-mail address or a web address).
TM_PRIVACY_CONTROLLER = os.environ.get("TM_PRIVACY_CONTROLLER", "")
TM_PRIVACY_CONTACT = os.environ.get("TM_PRIVACY_CONTACT", "")
# Wrong join passwords per room and address, checked before any hashing.
TM_RATE_WRONG_PASSWORD_PER_ROOM_CLIENT = "50/m"  # noqa: S105 - a rate, not a password
TM_RATE_AUTH_PER_USERNAME = "10/m"  # sign-in attempts per account name (guessing)
TM_RATE_POST_PER_CLIENT = "6000/m"  # 600 students at the participant rate
TM_RATE_JOIN_PER_CLIENT = "3000/m"
TM_RATE_CREATE_ROOM_PER_CLIENT = "300/h"  # a school's teachers making rooms
TM_RATE_AUTH_PER_CLIENT = "600/m"  # sign-in, sign-up, password reset, admin
# Follow tickets: a page asks for one when it (re)connects after ten minutes.
TM_RATE_TICKET_PER_CLIENT = "6000/m"

# Push nodes (ekg) the pages connect to, for rooms and live charts alike; one is picked
# at random per browser.
TM_PUSH_URLS: list[str] = []
# Event name -> embeddable video URL for its dashboard (/events/<name>).
TM_EVENT_VIDEOS: dict[str, str] = {}
# Every page's Content-Security-Policy (settings/csp.py); redo it where these change.
CONTENT_SECURITY_POLICY = csp.policy(TM_PUSH_URLS)
# Local reflektor and neighbours, tried in turn by tm/publish.py.
TM_REFLEKTOR_URLS: list[str] = ["http://127.0.0.1:8100"]
# Public base URL, for share links and QR codes; None means "from the request".
TM_PUBLIC_URL: str | None = None
# Run migrations when the server starts (make run); turn off with TM_MIGRATE_ON_START=0.
TM_MIGRATE_ON_START = os.environ.get("TM_MIGRATE_ON_START", "1") != "0"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    # Django's request logger prints nothing with addresses, but keep it at WARNING.
    "loggers": {"django.request": {"level": "WARNING"}},
}
# If memcached is down, let posts through rather than silence a class mid-lesson.
RATELIMIT_FAIL_OPEN = True
