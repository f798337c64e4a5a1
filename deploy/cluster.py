"""A production-shaped Parley on loopback: nginx in front of N Daphne processes, M AI workers and a task worker.

    python deploy/cluster.py            # what `make cluster` runs; Ctrl-C stops everything

Uses the local PostgreSQL and Redis (DATABASE_URL, REDIS_URL), nginx from the system's
packages, and only this repository's files. The fault-injection tests drive the same class.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/parley_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Block until something accepts connections on the port (or the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process {process.args[0]} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # another process is starting: there is nothing to wait on but its port
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def ensure_database(database_url: str) -> None:
    """Create the PostgreSQL database if it does not exist yet."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


class Cluster:
    """Start, inspect and break a loopback cluster; every process logs into `workdir`."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        port: int = 0,
        daphnes: int = 2,
        workers: int = 1,
        task_workers: int = 1,
        env: dict | None = None,
        workdir: Path | None = None,
    ):
        self.database_url = database_url
        self.redis_url = redis_url
        self.port = port or free_port()
        self.daphne_count = daphnes
        self.worker_count = workers
        self.task_worker_count = task_workers
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="parley-cluster-"))
        self.workdir.chmod(0o755)  # nginx workers (user nobody under root) read the static files here
        self.env = self._environment(env or {})
        self.daphnes: dict[int, subprocess.Popen] = {}  # port -> process
        self.workers: list[subprocess.Popen] = []
        self.task_workers: list[subprocess.Popen] = []
        self.nginx: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Where a browser (or a test) reaches the cluster."""
        return f"http://127.0.0.1:{self.port}"

    def _environment(self, extra: dict) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.setdefault("SECRET_KEY", "parley-cluster-local-only-" + secrets.token_urlsafe(40))
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            DEBUG="0",
            BEHIND_PROXY="1",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_COOKIES="0",
            PYTHONUNBUFFERED="1",
            STATIC_ROOT=str(self.workdir / "static"),
            # Attachments on disk, sent by nginx once Django has checked the link (X-Accel-Redirect).
            MEDIA_ROOT=str(self.workdir / "media"),
            PARLEY_ATTACHMENT_ACCEL_PREFIX="/protected-files/",
            PORT=str(self.port),
            DJANGO_SETTINGS_MODULE="chatsite.settings",
            **extra,
        )
        return env

    def manage(self, *args: str) -> str:
        """Run a management command against the cluster's database."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def prepare(self) -> None:
        """Database, schema, demo data and static files."""
        ensure_database(self.database_url)
        self.manage("migrate", "--noinput")
        self.manage("seed_demo", "--open-all-hours", "--origin", self.url)
        self.manage("collectstatic", "--noinput")

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")
        return subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_daphne(self, port: int | None = None) -> int:
        """Start one Daphne process; returns its port."""
        port = port or free_port()
        process = self._spawn(
            f"daphne-{port}",
            [
                str(Path(sys.executable).parent / "daphne"),
                "--proxy-headers",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "chatsite.asgi:application",
            ],
        )
        wait_until_listening(port, process)
        self.daphnes[port] = process
        return port

    def start_worker(self) -> subprocess.Popen:
        """Start one `runworker ai-reply` process."""
        process = self._spawn(f"worker-{len(self.workers)}", [sys.executable, "manage.py", "runworker", "ai-reply"])
        self.workers.append(process)
        return process

    def start_task_worker(self) -> subprocess.Popen:
        """Start one `db_worker` process: it runs the queued background tasks (email)."""
        process = self._spawn(
            f"tasks-{len(self.task_workers)}",
            [sys.executable, "manage.py", "db_worker", "--worker-id", f"tasks-{len(self.task_workers)}"],
        )
        self.task_workers.append(process)
        return process

    def _write_nginx_conf(self) -> Path:
        prefix = self.workdir / "nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        upstreams = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in self.daphnes)
        config = TEMPLATE.read_text()
        for key, value in {
            "prefix": str(prefix),
            "upstreams": upstreams,
            "listen": f"127.0.0.1:{self.port}",
            "static_root": self.env["STATIC_ROOT"],
            "media_root": self.env["MEDIA_ROOT"],
            "mime_types": "/etc/nginx/mime.types",
        }.items():
            config = config.replace("{" + key + "}", value)
        path = prefix / "nginx.conf"
        path.write_text(config)
        return path

    def start_nginx(self) -> None:
        """Start nginx (as the current user, in the foreground) in front of the Daphne processes."""
        config = self._write_nginx_conf()
        self.nginx = self._spawn("nginx", [NGINX, "-p", str(config.parent), "-c", str(config), "-g", "daemon off;"])
        wait_until_listening(self.port, self.nginx)

    def start(self) -> Cluster:
        """Everything, in order; returns self."""
        self.prepare()
        for _ in range(self.daphne_count):
            self.start_daphne()
        for _ in range(self.worker_count):
            self.start_worker()
        for _ in range(self.task_worker_count):
            self.start_task_worker()
        self.start_nginx()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=3) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster not ready after {timeout} s; logs in {self.workdir}")
            time.sleep(0.2)  # the worker announces itself within a second or two

    @staticmethod
    def _end(process: subprocess.Popen, signum: int = signal.SIGTERM, timeout: float = 20) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signum)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=timeout)

    def stop_daphne(self, port: int, signum: int = signal.SIGTERM) -> None:
        """Stop (SIGTERM: gracefully, 1012) or kill (SIGKILL) one Daphne process."""
        self._end(self.daphnes.pop(port), signum)

    def stop(self) -> None:
        """Stop nginx, the Daphne processes and the workers (SIGTERM: a task worker finishes its task first)."""
        if self.nginx is not None:
            self._end(self.nginx, signal.SIGQUIT)
            self.nginx = None
        for port in list(self.daphnes):
            self.stop_daphne(port)
        for worker in self.workers + self.task_workers:
            self._end(worker)
        self.workers = []
        self.task_workers = []


def main() -> None:
    cluster = Cluster(
        database_url=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        redis_url=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        port=int(os.environ.get("CLUSTER_PORT", "8080")),
        daphnes=int(os.environ.get("DAPHNES", "2")),
        workers=int(os.environ.get("WORKERS", "1")),
        task_workers=int(os.environ.get("TASK_WORKERS", "1")),
    )
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        cluster.start()
        ports = ", ".join(str(port) for port in cluster.daphnes)
        print(
            f"Parley cluster on {cluster.url}/  (nginx -> Daphne on {ports}, {len(cluster.workers)} AI worker, "
            f"{len(cluster.task_workers)} task worker)"
        )
        print(f"  desk: {cluster.url}/agent/  admin: {cluster.url}/admin/  self-check: {cluster.url}/selfcheck/")
        print(f"  logs: {cluster.workdir}   Ctrl-C stops everything.")
        while not stopping:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        print("cluster stopped")


if __name__ == "__main__":
    main()
