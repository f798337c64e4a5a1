"""Server processes for one measurement: Parley, the baselines and the fake provider, on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from bench import procstat
from bench.databases import REDIS_URL, Databases, django_env
from deploy.cluster import Cluster
from tests.integration.processes import ManagedProcess, free_port

BIN = Path(sys.executable).parent
PARLEY_APP = "chatsite.asgi:application"
BACKLOG = 1024
# Benchmarks send far more than a person types, all from one address: the abuse limits must not be what they
# measure (a COUNT of 0 turns a rate off, a cap of 0 turns it off).
UNLIMITED_SENDS = {
    "PARLEY_SEND_RATE_COUNT": "1000000",
    "PARLEY_SEND_RATE_WINDOW": "1",
    **dict.fromkeys(
        [
            "PARLEY_SESSION_IP_RATE",
            "PARLEY_SESSION_SITE_RATE",
            "PARLEY_SEND_IP_RATE",
            "PARLEY_SEND_SITE_RATE",
            "PARLEY_BOT_SITE_RATE",
            "PARLEY_TYPING_RATE",
            "PARLEY_READ_RATE",
            "PARLEY_PING_RATE",
            "PARLEY_CONTROL_RATE",
        ],
        "0/1",
    ),
    "PARLEY_CONNECTIONS_PER_VISITOR": "0",
    "PARLEY_CONNECTIONS_PER_IP": "0",
}


def wait_listening(process: ManagedProcess, port: int, timeout: float = 60) -> None:
    """Block until the port accepts connections (servers log their start at levels benchmarks silence)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.process.poll() is not None or time.monotonic() > deadline:
                process.stop()
                raise RuntimeError(f"{process.name} did not start:\n{''.join(process.output[-30:])}") from None
            time.sleep(0.1)  # polling a port: there is nothing to wait on


def _daphne(app: str, env: dict, name: str) -> tuple[ManagedProcess, int]:
    port = free_port()
    # A listen backlog like the other servers': Twisted's default of 50 turns a crowd of connects into SYN retries.
    endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog={BACKLOG}"
    # -v 0: no access log; at Daphne's default verbosity every connection writes a line to stdout.
    process = ManagedProcess(name, [str(BIN / "daphne"), "-v", "0", "-e", endpoint, app], env)
    wait_listening(process, port)
    return process, port


def layer_env(layer: str) -> dict:
    """Settings that select the channel layer: in-memory (none) or Redis with a prefix of its own."""
    if layer == "memory":
        return {}
    env = {"REDIS_URL": REDIS_URL, "CHANNEL_LAYER_PREFIX": f"bench{uuid.uuid4().hex[:8]}"}
    if layer == "redis-pubsub":  # channels-redis's pub/sub layer: one PUBLISH per group send
        env["CHANNEL_LAYER_BACKEND"] = "pubsub"
    return env


def forget_layer(prefix: str) -> None:
    """Delete a killed server's channel-layer keys (groups live a day otherwise); only this run's prefix."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


class Server:
    """Processes started together and stopped together; `pids` are the ones whose CPU and memory count."""

    def __init__(self):
        self.processes: list[ManagedProcess] = []
        self.port = 0
        self.layer_prefix = ""

    @property
    def popens(self) -> list[subprocess.Popen]:
        """The operating-system processes, however they were started."""
        return [p.process for p in self.processes]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.popens]

    @property
    def pid(self) -> int:
        return self.processes[0].process.pid

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.popens)

    def tail(self, lines: int = 20) -> str:
        """The last lines the processes printed (for a failure report)."""
        return "".join(line for p in self.processes for line in p.output[-lines:])

    def stop(self) -> None:
        """Kill at once: nothing a benchmark server holds is worth a graceful shutdown, and it costs seconds."""
        for process in reversed(self.popens):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self.layer_prefix:
            forget_layer(self.layer_prefix)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class ParleyServer(Server):
    """Daphne serving Parley (or a variant app) on a fresh database; with `worker`, replies run in a runworker.

    Without `worker` the AI-reply consumer runs inside Daphne (also on Redis), so a variant app's worker is used.
    """

    def __init__(
        self,
        databases: Databases,
        *,
        layer: str = "memory",
        fixture: dict | None = None,
        app: str = PARLEY_APP,
        worker: bool = False,
        **settings: str,
    ):
        super().__init__()
        self.databases = databases
        self.database_url, self.fixture = databases.fresh(fixture)
        embedded = "0" if worker else "1"
        self.env = django_env(
            self.database_url, PARLEY_EMBEDDED_WORKER=embedded, **UNLIMITED_SENDS, **layer_env(layer), **settings
        )
        self.layer_prefix = self.env.get("CHANNEL_LAYER_PREFIX", "")
        try:
            process, self.port = _daphne(app, self.env, "parley")
            self.processes.append(process)
            if worker:
                self.processes.append(_runworker(self.env))
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        super().stop()
        self.databases.drop(self.database_url)


def _runworker(env: dict) -> ManagedProcess:
    process = ManagedProcess("worker", [sys.executable, "manage.py", "runworker", "ai-reply"], env)
    process.wait_for_line("Running worker for channels", timeout=60)
    return process


class ClusterServer(Server):
    """Parley as production runs it (deploy/cluster.py): nginx in front of Daphne processes and AI workers.

    Every process shares the fresh bench database and one Redis channel-layer prefix, so a customer on one
    Daphne and the agent on another see each other's messages; clients connect to nginx's port.
    """

    def __init__(
        self, databases: Databases, *, fixture: dict | None = None, daphnes: int = 2, workers: int = 1, **settings: str
    ):
        super().__init__()
        self.databases = databases
        self.database_url, self.fixture = databases.fresh(fixture)
        self.layer_prefix = layer_env("redis")["CHANNEL_LAYER_PREFIX"]
        bench = django_env(self.database_url)
        # The bench's key: the fixture's visitor tokens and agent sessions were signed with it.
        env = {
            "SECRET_KEY": bench["SECRET_KEY"],
            "LOG_LEVEL": bench["LOG_LEVEL"],
            "PARLEY_EMBEDDED_WORKER": "0",
            "CHANNEL_LAYER_PREFIX": self.layer_prefix,
            **UNLIMITED_SENDS,
            **settings,
        }
        self.cluster = Cluster(
            database_url=self.database_url, redis_url=REDIS_URL, daphnes=daphnes, workers=workers, env=env
        )
        self.port = self.cluster.port
        try:
            self._start()
        except Exception as exc:
            logs = self.tail()  # read before stop() removes the work directory
            self.stop()
            raise RuntimeError(f"the cluster did not start ({exc}):\n{logs}") from exc

    def _start(self) -> None:
        """Cluster.start() without prepare(): the bench database is migrated and seeded, static files unused."""
        for _ in range(self.cluster.daphne_count):
            self.cluster.start_daphne()
        for _ in range(self.cluster.worker_count):
            self.cluster.start_worker()
        self.cluster.start_nginx()
        self.cluster._wait_ready()

    @property
    def popens(self) -> list[subprocess.Popen]:
        nginx = [self.cluster.nginx] if self.cluster.nginx is not None else []
        return [*nginx, *self.cluster.daphnes.values(), *self.cluster.workers]

    @property
    def pids(self) -> list[int]:
        # With descendants: nginx's master only supervises, its forked worker does the proxying.
        return [pid for process in self.popens for pid in procstat.family(process.pid)]

    def tail(self, lines: int = 20) -> str:
        """The last lines of every process's log file."""
        logs = sorted(self.cluster.workdir.glob("*.log")) + sorted(self.cluster.workdir.glob("nginx/*.log"))
        return "".join(
            f"--- {log.name}\n" + "".join(log.read_text(errors="replace").splitlines(True)[-lines:]) for log in logs
        )

    def stop(self) -> None:
        super().stop()
        self.databases.drop(self.database_url)
        shutil.rmtree(self.cluster.workdir, ignore_errors=True)


class BaselineServer(Server):
    """Daphne serving a baseline app with the minimal settings module, on the given layer."""

    def __init__(self, app: str, *, layer: str = "memory", **settings: str):
        super().__init__()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "AI_", "CHANNEL_LAYER_"))}
        env.pop("REDIS_URL", None)
        env.update(
            DJANGO_SETTINGS_MODULE="bench.baselines.relay_settings",
            PYTHONUNBUFFERED="1",
            **layer_env(layer),
            **settings,
        )
        self.layer_prefix = env.get("CHANNEL_LAYER_PREFIX", "")
        process, self.port = _daphne(app, env, "baseline")
        self.processes.append(process)


class FloorServer(Server):
    """The raw floor: a bare `websockets` server fanning out from a dict, no Channels, no Django."""

    def __init__(self):
        super().__init__()
        self.port = free_port()
        process = ManagedProcess(
            "floor",
            [sys.executable, "-m", "bench.baselines.raw_floor", "--port", str(self.port), "--backlog", str(BACKLOG)],
            dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        wait_listening(process, self.port)
        self.processes.append(process)


class FakeLLM(Server):
    """The stamping fake provider (bench/fake_llm.py) in a process of its own."""

    def __init__(self, *, tokens: int, rate: float):
        super().__init__()
        process = ManagedProcess(
            "fake-llm",
            [sys.executable, "-m", "bench.fake_llm", "--tokens", str(tokens), "--rate", str(rate)],
            dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        self.base_url = process.wait_for_line("http://", timeout=30).strip()
        self.processes.append(process)

    def stats(self) -> dict:
        """Per question id: arrival, first token, end or close time (wall clock) and tokens sent."""
        return httpx.get(self.base_url.removesuffix("/v1") + "/stats", timeout=30).json()
