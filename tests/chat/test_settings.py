"""Start-up refuses misconfiguration with a message that names the setting."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage_check(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG")}
    clean.update(DJANGO_SETTINGS_MODULE="chatsite.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "env, named",
    [
        ({"DEBUG": "1", "DATABASE_URL": "nonsense://"}, "DATABASE_URL"),
        ({"DEBUG": "1", "DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"DEBUG": "1", "REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({}, "SECRET_KEY"),
        # The example file's placeholder, a short key and a one-character key are refused in production.
        ({"DEBUG": "0", "SECRET_KEY": "change-me-to-50-random-characters"}, "SECRET_KEY"),
        ({"DEBUG": "0", "SECRET_KEY": "short-but-not-empty"}, "SECRET_KEY"),
        ({"DEBUG": "0", "SECRET_KEY": "a" * 60}, "SECRET_KEY"),
        ({"DEBUG": "1", "PARLEY_MAX_BODY_CHARS": "lots"}, "PARLEY_MAX_BODY_CHARS"),
    ],
)
def test_bad_setting_stops_start_up_naming_it(env, named):
    result = manage_check(**env)
    assert result.returncode != 0
    assert named in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_a_long_random_key_is_accepted_in_production():
    result = manage_check(
        DEBUG="0", SECRET_KEY="Qm3v-8dLx2Rk9Tz4Wn7Bp1Hs6Jc0Yf5Ge2Ua8Oi3Lr7Kt9Vw4Xq", ALLOWED_HOSTS="example.com"
    )
    assert result.returncode == 0, result.stderr


def test_defaults_need_no_services():
    result = manage_check(DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_models_and_migrations_agree():
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "chatsite.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
