"""Real server processes for integration tests: Daphne and workers on free loopback ports."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ManagedProcess:
    """A child process whose output lines are collected, so tests wait on what it prints."""

    def __init__(self, name: str, args: list[str], env: dict):
        self.name = name
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for_line(self, needle: str, timeout: float = 30) -> str:
        """Block until the process prints a line containing `needle`."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"{self.name} never printed {needle!r}:\n{''.join(self.output[-40:])}") from None
            if needle in line:
                return line

    def signal(self, signum: int) -> None:
        """Send a signal to the process."""
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)


def service_env(database_url: str, redis_url: str, prefix: str, **extra) -> dict:
    """The environment every process of one test cluster shares."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "AI_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CHANNEL_LAYER_PREFIX=prefix,
        SECRET_KEY="integration-secret-" + "x7Kp2mQ9vR4tW8zB" * 3,  # long enough for DEBUG=0
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        PYTHONUNBUFFERED="1",
        SECURE_COOKIES="0",
        **extra,
    )
    return env


def embedded_env(tmp_dir: Path, port_hint: str = "8000", **extra) -> dict:
    """One Daphne process with no services: SQLite file, in-memory layer, embedded AI worker."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith(("PARLEY_", "AI_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_dir / 'live.sqlite3'}",
        SECRET_KEY="browser-tests",
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        PYTHONUNBUFFERED="1",
        PORT=port_hint,
        **extra,
    )
    return env


def manage(env: dict, *args: str) -> str:
    """Run a management command and return its output."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def start_daphne(env: dict, name: str = "daphne") -> tuple[ManagedProcess, int]:
    """Start Daphne on a free port and wait until it listens."""
    port = free_port()
    process = ManagedProcess(
        name, [str(BIN / "daphne"), "-v", "1", "-b", "127.0.0.1", "-p", str(port), "chatsite.asgi:application"], env
    )
    process.wait_for_line("Listening on TCP address")
    return process, port


def start_worker(env: dict, name: str = "worker") -> ManagedProcess:
    """Start `manage.py runworker ai-reply` and wait until it listens on the channel."""
    process = ManagedProcess(name, [sys.executable, "manage.py", "runworker", "ai-reply"], env)
    process.wait_for_line("Running worker for channels")
    return process


def wait_for_row(database_url: str, sql: str, params: tuple, predicate, timeout: float = 15):
    """Poll the database until a query's first row satisfies `predicate`; return that row."""
    import time

    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as connection:
        while True:
            row = connection.execute(sql, params).fetchone()
            if row is not None and predicate(row):
                return row
            if time.monotonic() > deadline:
                raise TimeoutError(f"no row satisfied the condition: {sql} {params} -> {row}")
            time.sleep(0.05)  # polling another process's database: there is no event to wait on
