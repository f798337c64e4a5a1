"""Parley's settings with persistent database connections: a what-if the benchmarks measure beside Parley.

Parley opens a new database connection for every ORM hop (CONN_MAX_AGE=0). Its ORM work runs on one
thread per process, so one kept connection is safe; this variant shows what reusing it is worth.
"""

from chatsite.settings import *  # noqa: F403

DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
