"""Running django-tasks' database worker: in a thread of the Daphne process (no Redis), or once for tests.

In production `manage.py db_worker` runs as a process of its own; under `make run` there is one
process, so it runs the same worker (django_tasks_db's `Worker`) in a thread: sending email blocks
on the mail server, and must not hold the event loop or the database thread of the sockets.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading

from django.conf import settings
from django.db import connections
from django_tasks_db.management.commands.db_worker import Worker

logger = logging.getLogger(__name__)

QUEUE = "default"
CRASH_PAUSE_SECONDS = 5.0
THREAD_NAME = "parley-tasks"


class QuietBatches(logging.Filter):
    """The embedded worker runs a batch every poll: the batch's start and end lines (INFO) would fill the log.

    Only the worker's own lines from that thread are dropped; each task's lines (the `django_tasks`
    logger), warnings and errors stay.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or threading.current_thread().name != THREAD_NAME


logging.getLogger("django_tasks_db").addFilter(QuietBatches())


def batch_worker(*, worker_id: str, max_tasks: int | None = None) -> Worker:
    """django_tasks_db's worker in batch mode: it runs every task that is due, then returns."""
    return Worker(
        queue_names=[QUEUE],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=worker_id,
        excluded_queue_names=[],
    )


def run_due_tasks(*, max_tasks: int | None = None, worker_id: str = "batch") -> int:
    """Run the tasks due now with the real worker, in this thread; how many ran (`db_worker --batch`, in-process)."""
    worker = batch_worker(worker_id=worker_id, max_tasks=max_tasks)
    worker.run()
    return worker._run_tasks


class EmbeddedTaskWorker:
    """A thread that runs the due tasks every PARLEY_TASK_POLL_INTERVAL seconds until stopped."""

    def __init__(self, *, interval: float, worker_id: str):
        self.interval = interval
        self.worker_id = worker_id
        self.stopping = threading.Event()
        self.current: Worker | None = None
        self.thread = threading.Thread(target=self._serve, name=THREAD_NAME, daemon=True)

    def _serve(self) -> None:
        try:
            while not self.stopping.is_set():
                self.current = batch_worker(worker_id=self.worker_id)
                try:
                    self.current.run()
                    pause = self.interval
                except Exception:
                    # The database went away, say: the thread lives on and tries again.
                    logger.warning("the embedded task worker failed; retrying", exc_info=True)
                    pause = max(self.interval, CRASH_PAUSE_SECONDS)
                self.stopping.wait(pause)
        finally:
            connections.close_all()  # this thread's connections only

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Finish the task in hand (if any) and end; does not wait."""
        self.stopping.set()
        if self.current is not None:
            self.current.running = False


async def run_tasks_forever() -> None:
    """Run the embedded worker until this coroutine is cancelled (the process stops)."""
    worker = EmbeddedTaskWorker(interval=settings.PARLEY_TASK_POLL_INTERVAL, worker_id=f"embedded:{os.getpid()}")
    worker.start()
    try:
        await asyncio.Event().wait()  # until cancelled, when the process (or a test's loop) stops
    finally:
        worker.stop()


def embedded_task_runners(loop: asyncio.AbstractEventLoop) -> list[asyncio.Task]:
    """The background tasks `ensure_background_tasks` starts for the task worker: one, when PARLEY_EMBEDDED_TASKS."""
    if not settings.PARLEY_EMBEDDED_TASKS:
        return []
    return [loop.create_task(run_tasks_forever())]
