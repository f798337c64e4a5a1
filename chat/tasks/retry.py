"""Retries with exponential backoff for tasks: a failed attempt enqueues the next one, due later."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# Worth another try: the mail server refused or was unreachable (smtplib's errors are OSErrors), the database
# was busy. Anything else is a bug that the same input would hit again: it fails at once.
RETRYABLE = (OSError, DatabaseError)


class GaveUp(Exception):
    """The last attempt of a task failed too; it is not tried again (its row stays FAILED in the admin)."""


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1, 2, …): PARLEY_TASK_RETRY_DELAY, doubled each time, capped."""
    return min(settings.PARLEY_TASK_RETRY_DELAY * 2 ** (attempt - 1), settings.PARLEY_TASK_RETRY_MAX_DELAY)


def retried(func):
    """Make a task function retry: put it under `@task()`. The attempt number rides in the task's kwargs.

    A failed attempt (a RETRYABLE error) enqueues attempt n + 1 with `run_after` = now + retry_delay(n),
    then fails itself, so each attempt's error stays in the task results. After PARLEY_TASK_RETRIES
    retries the last attempt fails with GaveUp, the original error chained to it.
    """

    @functools.wraps(func)
    def attempt_once(*args, attempt: int = 1, **kwargs):
        try:
            return func(*args, **kwargs)
        except RETRYABLE as error:
            if attempt > settings.PARLEY_TASK_RETRIES:
                raise GaveUp(f"{func.__name__}: attempt {attempt} failed too, not retried ({error!r})") from error
            run_after = timezone.now() + timedelta(seconds=retry_delay(attempt))
            # The module attribute is the Task that `@task()` made of this wrapper: enqueue it again.
            task = import_string(f"{func.__module__}.{func.__qualname__}")
            task.using(run_after=run_after).enqueue(*args, attempt=attempt + 1, **kwargs)
            logger.warning(
                "%s attempt %d failed (%s); attempt %d at %s", func.__name__, attempt, error, attempt + 1, run_after
            )
            raise

    return attempt_once
