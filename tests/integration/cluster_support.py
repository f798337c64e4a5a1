"""Fault injection on a production-shaped cluster: nginx, Daphne processes, AI workers, PostgreSQL, Redis.

`running_cluster()` builds a `deploy.cluster.Cluster` on a scratch PostgreSQL database and a private
`redis-server` (so a test may kill and restart it), and stops every process it started, even on failure.

`TranscriptClient` is a customer client that keeps its transcript the way the widget does
(static/widget/connection.js): by seq and delta index, gap-checked by `prev_seq`, repaired with
`resume`, deduplicated, and after a close reconnected with its cursor "S.I" and conversation id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import websockets

from deploy.cluster import NGINX, Cluster, free_port, wait_until_listening
from tests.integration.clients import Socket
from tests.services import ScratchDatabase, need, postgres_server_url

SHOP_ORIGIN = "http://shop.test"
REDIS_SERVER = shutil.which("redis-server")
TRACKED = frozenset({"message.new", "reply.start", "reply.delta", "reply.snapshot", "reply.end"})
STREAMING = "streaming"


# --- processes ------------------------------------------------------------------------------


class RedisServer:
    """A redis-server of our own on a fixed loopback port, without persistence: a restart forgets everything."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.workdir = workdir
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        with open(self.workdir / f"redis-{self.port}.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.workdir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_listening(self.port, self.process, timeout=10)
        return self

    def kill(self) -> None:
        """SIGKILL: every key (channel queues, group memberships, cache) is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        """Kill it and start a fresh, empty one on the same port."""
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def upstream_port(headers) -> int | None:
    """The Daphne port nginx used, from X-Parley-Upstream ("a, b" when it retried: the last one answered)."""
    value = headers.get("X-Parley-Upstream") if headers is not None else None
    if not value:
        return None
    return int(value.split(",")[-1].strip().rsplit(":", 1)[1])


@dataclass
class FaultCluster:
    """A running cluster, its private Redis and its scratch database."""

    cluster: Cluster
    redis: RedisServer
    database: ScratchDatabase

    @property
    def port(self) -> int:
        return self.cluster.port

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def dsn(self) -> str:
        return self.database.url.replace("postgres://", "postgresql://", 1)

    @property
    def database_name(self) -> str:
        return self.database.name

    @property
    def workdir(self) -> Path:
        return self.cluster.workdir

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def transcript(self, conversation_id: int) -> list[tuple[int, str, str]]:
        """What the customer may see of a conversation, from the database: (seq, body, status) by seq."""
        return [
            tuple(row)
            for row in self.rows(
                "select seq, body, status from chat_message where conversation_id = %s and not internal order by seq",
                (conversation_id,),
            )
        ]


def _continue_all(cluster: Cluster) -> None:
    """Resume any process a test stopped with SIGSTOP, so teardown's SIGTERM is heard at once."""
    for process in [*cluster.daphnes.values(), *cluster.workers]:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGCONT)


STOP_WITHIN = 8  # seconds a process gets after SIGTERM before SIGKILL (a clean stop takes 1-2 s)


def stop_cluster(cluster: Cluster) -> None:
    """Cluster.stop(), but every Daphne and worker at once, and SIGKILL after STOP_WITHIN seconds.

    A Daphne whose agent socket is still disconnecting when it stops can hang until SIGKILL: the
    disconnect's on_commit broadcast (async_to_sync) waits for an event loop that has stopped.
    """
    _continue_all(cluster)
    if cluster.nginx is not None:
        Cluster._end(cluster.nginx, signal.SIGTERM)
        cluster.nginx = None
    processes = [*cluster.daphnes.values(), *cluster.workers]
    if processes:
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(lambda process: Cluster._end(process, signal.SIGTERM, STOP_WITHIN), processes))
    cluster.daphnes.clear()
    cluster.workers = []


@contextlib.contextmanager
def running_cluster(name: str, *, daphnes: int = 2, workers: int = 1, env: dict | None = None):
    """nginx + Daphne processes + AI workers on a scratch database and a private Redis; all stopped on exit."""
    need(REDIS_SERVER is not None, "redis-server is not installed")
    need(os.path.exists(NGINX), f"nginx is not installed at {NGINX}")
    server_url = postgres_server_url()
    workdir = Path(tempfile.mkdtemp(prefix=f"parley-faults-{name}-"))
    database = ScratchDatabase(server_url).create()
    redis: RedisServer | None = None
    cluster: Cluster | None = None
    try:
        redis = RedisServer(workdir).start()
        cluster = Cluster(
            database_url=database.url,
            redis_url=redis.url,
            daphnes=daphnes,
            workers=workers,
            workdir=workdir,
            env={"CHANNEL_LAYER_PREFIX": f"parley-faults-{uuid.uuid4().hex[:6]}", **(env or {})},
        )
        # Cluster.prepare() also collects static files, which no test here needs (most of the boot time).
        cluster.manage("migrate", "--noinput")
        cluster.manage("seed_demo", "--open-all-hours", "--origin", SHOP_ORIGIN)
        with ThreadPoolExecutor(daphnes) as pool:
            list(pool.map(lambda _: cluster.start_daphne(), range(daphnes)))
        for _ in range(workers):
            cluster.start_worker()
        cluster.start_nginx()
        cluster._wait_ready()
        yield FaultCluster(cluster, redis, database)
    finally:
        try:
            if cluster is not None:
                stop_cluster(cluster)
        finally:
            try:
                if redis is not None:
                    redis.stop()
            finally:
                database.drop()


# --- clients --------------------------------------------------------------------------------


async def open_agent_socket(cluster: FaultCluster, cookie: str, origin: str):
    """/ws/agent/ through nginx with a session cookie; returns (connection, Daphne port)."""
    connection = await websockets.connect(
        f"ws://127.0.0.1:{cluster.port}/ws/agent/",
        origin=origin,
        additional_headers={"Cookie": cookie},
        open_timeout=10,
        max_size=2**24,
    )
    return connection, upstream_port(connection.response.headers)


async def agent_on(
    cluster: FaultCluster, cookie: str, *, want: int | None = None, avoid: int | None = None, attempts: int = 40
) -> tuple[Socket, dict, int]:
    """An agent socket through nginx, with the desk page's own Origin, that landed on Daphne `want`
    (or on any but `avoid`)."""
    for _ in range(attempts):
        connection, port = await open_agent_socket(cluster, cookie, cluster.url)
        if (want is None or port == want) and (avoid is None or port != avoid):
            socket = Socket(connection)
            return socket, await socket.until("welcome"), port
        await connection.close()
    raise AssertionError(f"no agent socket landed on Daphne {want} (avoiding {avoid}) in {attempts} tries")


async def agent_send_many(agent: Socket, messages: list[tuple[int, str]], timeout: float = 60) -> list[dict]:
    """Send (conversation, body) pairs without waiting in between; return their acks, in the same order."""
    client_ids = [str(uuid.uuid4()) for _ in messages]
    for client_id, (conversation_id, body) in zip(client_ids, messages):
        await agent.send(
            {"type": "message.send", "conversation": conversation_id, "client_id": client_id, "body": body}
        )
    wanted, acks = set(client_ids), {}

    def done(frame: dict) -> bool:
        if frame.get("type") == "error" and frame.get("ref") in wanted:
            raise AssertionError(f"agent send refused: {frame}")
        if frame.get("type") == "message.ack" and frame["client_id"] in wanted:
            acks[frame["client_id"]] = frame
        return len(acks) == len(wanted)

    await agent.until(done, timeout=timeout)
    return [acks[client_id] for client_id in client_ids]


@dataclass
class Entry:
    """One message of the transcript; `index` is the last delta held, `pos` the cursor after it."""

    id: int
    seq: int
    kind: str
    body: str
    status: str
    index: int = -1
    pos: tuple[int, int] | None = None


class TranscriptClient:
    """A customer as the widget is: a transcript by seq, exact resume, automatic reconnect with backoff."""

    def __init__(
        self,
        port: int,
        token: str,
        *,
        origin: str = SHOP_ORIGIN,
        name: str = "customer",
        welcome_timeout: float = 5.0,
        heartbeat: float = 25.0,
    ):
        self.welcome_timeout = welcome_timeout  # the widget's watchdog: no welcome in time, reconnect
        self.heartbeat = heartbeat  # the widget pings every 25 s once welcomed
        self.url = f"ws://127.0.0.1:{port}/ws/widget/"
        self.token = token
        self.origin = origin
        self.name = name
        # The transcript of the current conversation.
        self.conversation_id: int | None = None
        self.messages: dict[int, Entry] = {}
        # The link.
        self.connection = None
        self.welcomed = False
        self.resume_in_flight = False
        self.held: list[dict] = []
        self._outgoing: list[dict | None] = []
        self.may_reconnect = asyncio.Event()  # clear it to keep the client away (offline) after a close
        self.may_reconnect.set()
        # What happened, for assertions.
        self.connections = 0
        self.pongs = 0
        self.upstreams: list[int | None] = []
        self.close_codes: list[int | None] = []
        self.frames: list[dict] = []
        self.acks: dict[str, dict] = {}
        self.errors: list[dict] = []
        self.shown: list[tuple] = []  # (conversation, seq) as each first appeared on screen: twice is shown twice
        self.duplicates = 0  # transcript events dropped as already held
        self.gaps = 0  # live events that revealed a gap
        self.resumes = 0
        self.problems: list[str] = []
        self.gave_up: str | None = None
        self._changed = asyncio.Condition()
        self._task: asyncio.Task | None = None
        self._stopped = False

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, timeout: float = 15) -> TranscriptClient:
        self._task = asyncio.create_task(self._run(), name=f"transcript-{self.name}")
        await self.wait_until(lambda c: c.welcomed, timeout, "welcome")
        return self

    async def close(self) -> None:
        self._stopped = True
        self.may_reconnect.set()
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.connection.close(), 5)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    @property
    def upstream(self) -> int | None:
        return self.upstreams[-1] if self.upstreams else None

    @property
    def connected(self) -> bool:
        return self.connection is not None and self.welcomed

    async def _backoff(self, attempt: int) -> None:
        # Exponential backoff with full jitter, as the widget does, on a small scale.
        await asyncio.sleep(random.uniform(0, min(1.0, 0.05 * 2 ** min(attempt, 10))))

    async def _run(self) -> None:
        attempt = 0
        while not self._stopped:
            await self.may_reconnect.wait()
            if self._stopped:
                return
            try:
                # No protocol-level pings: a browser sends none; the widget's own ping and watchdog stand in.
                connection = await websockets.connect(
                    self.url, origin=self.origin, open_timeout=10, max_size=2**24, ping_interval=None
                )
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.ConnectionClosed):
                attempt += 1
                await self._backoff(attempt)
                continue
            self.connection = connection
            self.connections += 1
            self.upstreams.append(upstream_port(connection.response.headers))
            self.welcomed = self.resume_in_flight = False
            self.held = []
            watchdog = asyncio.get_running_loop().call_later(
                self.welcome_timeout, lambda c=connection: None if self.welcomed else asyncio.ensure_future(c.close())
            )
            pinger = asyncio.create_task(self._ping_forever(connection))
            try:
                await self._send(self._hello())
                async for raw in connection:
                    frame = json.loads(raw)
                    if frame.get("type") == "pong":
                        self.pongs += 1
                        self._on_pong(frame)
                        await self._flush(connection)
                        continue
                    self.frames.append(frame)
                    self._dispatch(frame)
                    await self._flush(connection)
                    async with self._changed:
                        self._changed.notify_all()
            except websockets.ConnectionClosed:
                pass
            watchdog.cancel()
            pinger.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)
            if self.welcomed:
                attempt = 0
            self.connection = None
            self.welcomed = False
            self.close_codes.append(connection.close_code)
            async with self._changed:
                self._changed.notify_all()
            if connection.close_code in (4401, 4403):
                self.gave_up = f"closed with {connection.close_code}"
                return
            attempt += 1
            if not self._stopped:
                await self._backoff(attempt)

    async def _ping_forever(self, connection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await asyncio.sleep(self.heartbeat)
                if self.welcomed and self.connection is connection:
                    await connection.send(json.dumps({"type": "ping"}))

    def _hello(self) -> dict:
        frame = {"type": "hello", "token": self.token, "cursor": self.cursor}
        if self.conversation_id is not None:
            frame["conversation"] = self.conversation_id
        return frame

    async def _send(self, frame: dict) -> None:
        await self.connection.send(json.dumps(frame))

    async def _flush(self, connection) -> None:
        outgoing, self._outgoing = self._outgoing, []
        for frame in outgoing:
            if frame is None:  # the link cannot be repaired in place: reconnect
                await connection.close()
                return
            await connection.send(json.dumps(frame))

    async def send(self, frame: dict) -> None:
        """Send a frame on the live link (the test decides what to do without one)."""
        assert self.connection is not None, f"{self.name} is not connected"
        await self._send(frame)

    async def send_message(self, body: str, client_id: str | None = None) -> str:
        client_id = client_id or str(uuid.uuid4())
        await self.send({"type": "message.send", "client_id": client_id, "body": body})
        return client_id

    async def wait_ack(self, client_id: str, timeout: float = 15) -> dict:
        await self.wait_until(lambda c: client_id in c.acks, timeout, f"ack of {client_id}")
        return self.acks[client_id]

    async def wait_until(self, predicate, timeout: float, what: str = "condition"):
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: predicate(self))
        except TimeoutError:
            raise AssertionError(f"{self.name}: no {what} within {timeout} s; {self.describe()}") from None

    async def wait_transcript(self, expected: list[tuple], timeout: float = 20) -> None:
        """Until this client shows exactly `expected` (seq, body, status) and is not mid-resume."""
        await self.wait_until(
            lambda c: c.transcript() == expected and not c.resume_in_flight,
            timeout,
            f"transcript equal to the database's {expected[-3:]}",
        )

    def describe(self) -> str:
        return (
            f"conversation={self.conversation_id} cursor={self.cursor} connected={self.connected} "
            f"connections={self.connections} closes={self.close_codes} upstreams={self.upstreams} "
            f"resumes={self.resumes} gaps={self.gaps} transcript(last 3)={self.transcript()[-3:]} "
            f"last frames={[f.get('type') for f in self.frames[-8:]]} errors={self.errors[-3:]}"
        )

    # --- frames (static/widget/connection.js, same decisions) -------------------------------------

    def _dispatch(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind in ("welcome", "replay"):
            self._on_welcome(frame)
        elif kind == "message.ack":
            self.acks[frame["client_id"]] = frame
            if self.conversation_id is None and isinstance(frame.get("conversation"), int):
                self._follow(frame["conversation"])
        elif kind == "error":
            self.errors.append(frame)
            if frame.get("ref") == "resume" and self.resume_in_flight:
                self._outgoing.append(None)  # no replay will come: a fresh hello repairs the transcript
        elif kind == "conversation.updated":
            conversation = frame.get("conversation") or {}
            if isinstance(conversation.get("id"), int) and (
                self.conversation_id is None or conversation["id"] > self.conversation_id
            ):
                self._switch(conversation["id"])
        elif kind in TRACKED:
            self._on_live(frame)

    def _on_welcome(self, frame: dict) -> None:
        first = not self.welcomed
        self.resume_in_flight = False
        conversation = frame.get("conversation")
        if not conversation:
            if self.conversation_id is not None:
                self._switch(None)
        elif conversation["id"] != self.conversation_id:
            self._switch(conversation["id"])
        gap = False
        for event in frame.get("events") or []:
            if event.get("type") in TRACKED:
                gap = self._apply(event, live=False) == "gap" or gap
            else:
                self._dispatch(event)
        if isinstance(frame.get("cursor"), str):
            self._note_position(frame["cursor"])
        if first:
            self.welcomed = True
        if frame.get("more"):
            self._send_resume(frame["cursor"])
        elif gap:
            self._request_resume()
        else:
            self._release_held()

    def _on_live(self, event: dict) -> None:
        if not self.welcomed or self.resume_in_flight:
            self.held.append(event)
            return
        if not self._follow(event.get("conversation")):
            return
        if self._apply(event, live=True) == "gap":
            self.gaps += 1
            self._request_resume()

    def _follow(self, conversation_id: int | None) -> bool:
        if conversation_id is None or conversation_id == self.conversation_id:
            return True
        if self.conversation_id is not None and conversation_id < self.conversation_id:
            return False
        self._switch(conversation_id)
        return True

    def _switch(self, conversation_id: int | None) -> None:
        self.conversation_id = conversation_id
        self.messages.clear()

    def _release_held(self) -> None:
        held, self.held = self.held, []
        for event in held:
            self._on_live(event)

    def _on_pong(self, frame: dict) -> None:
        """As the widget does: a server head cursor ahead of ours means events were lost silently."""
        if frame.get("conversation") != self.conversation_id or "cursor" not in frame:
            return
        mine = tuple(int(part) for part in self.cursor.split("."))
        head = tuple(int(part) for part in frame["cursor"].split("."))
        if mine < head:
            self._request_resume()

    def _request_resume(self) -> None:
        if self.resume_in_flight or not self.welcomed:
            return
        self._send_resume(self.cursor)

    def _send_resume(self, cursor: str) -> None:
        frame = {"type": "resume", "cursor": cursor}
        if self.conversation_id is not None:
            frame["conversation"] = self.conversation_id
        self._outgoing.append(frame)
        self.resume_in_flight = True
        self.resumes += 1

    # --- the transcript ------------------------------------------------------------------------

    def _apply(self, event: dict, *, live: bool) -> str:
        kind = event["type"]
        seq = event["message"]["seq"] if kind == "message.new" else event.get("seq")
        if not isinstance(seq, int):
            return "duplicate"
        held = self.messages.get(seq)
        if kind == "message.new":
            result = self._apply_message(event, held, live)
        elif kind == "reply.start":
            result = self._apply_start(event, held, live)
        elif kind == "reply.delta":
            result = self._apply_delta(event, held)
        elif kind == "reply.snapshot":
            result = self._apply_snapshot(event, held, live)
        else:
            result = self._apply_end(event, held, live)
        if result == "duplicate":
            self.duplicates += 1
        return result

    def _missed_before(self, event: dict) -> bool:
        prev_seq = event.get("prev_seq")
        return isinstance(prev_seq, int) and prev_seq > max(self.messages, default=0)

    def _check_prefix(self, seq: int, held_body: str, final: str) -> None:
        if held_body and not final.startswith(held_body):
            self.problems.append(f"seq {seq}: assembled {held_body!r} is not a prefix of {final!r}")

    def _apply_message(self, event: dict, held: Entry | None, live: bool) -> str:
        if held is not None and held.status != STREAMING:
            return "duplicate"
        if held is None and live and self._missed_before(event):
            return "gap"
        message = event["message"]
        if held is not None:  # a reply we saw start came back finished, as a message, in a replay
            self._check_prefix(message["seq"], held.body, message.get("body") or "")
        self.messages[message["seq"]] = Entry(
            id=message["id"],
            seq=message["seq"],
            kind=message["author"]["kind"],
            body=message.get("body") or "",
            status=message["status"],
            index=held.index if held else -1,
            pos=(message["seq"], 0),
        )
        if held is None:
            self.shown.append((self.conversation_id, message["seq"]))
        return "applied"

    def _new_reply(self, event: dict) -> Entry:
        entry = Entry(
            id=event["reply_id"],
            seq=event["seq"],
            kind=(event.get("author") or {}).get("kind", "bot"),
            body="",
            status=STREAMING,
        )
        self.messages[event["seq"]] = entry
        self.shown.append((self.conversation_id, event["seq"]))
        return entry

    def _apply_start(self, event: dict, held: Entry | None, live: bool) -> str:
        if held is not None:
            return "duplicate"
        if live and self._missed_before(event):
            return "gap"
        self._new_reply(event)
        return "applied"

    def _apply_delta(self, event: dict, held: Entry | None) -> str:
        if held is None:
            return "gap"
        if held.status != STREAMING or event["index"] <= held.index:
            return "duplicate"
        if event["index"] != held.index + 1:
            return "gap"
        held.body += event.get("text") or ""
        held.index = event["index"]
        held.pos = (held.seq, held.index)
        return "applied"

    def _apply_snapshot(self, event: dict, held: Entry | None, live: bool) -> str:
        if held is None and live:
            return "gap"
        entry = held or self._new_reply(event)
        if entry.status != STREAMING or event["index"] <= entry.index:
            return "duplicate"
        self._check_prefix(entry.seq, entry.body, event.get("text") or "")
        entry.body = event.get("text") or ""
        entry.index = event["index"]
        entry.pos = (entry.seq, entry.index)
        return "applied"

    def _apply_end(self, event: dict, held: Entry | None, live: bool) -> str:
        if held is None and live:
            return "gap"
        entry = held or self._new_reply(event)
        if entry.status != STREAMING:
            return "duplicate"
        if isinstance(event.get("body"), str):
            if isinstance(event.get("index"), int) and event["index"] >= entry.index:
                # The end covers every delta we hold, so what we assembled must be where its body starts.
                self._check_prefix(entry.seq, entry.body, event["body"])
            entry.body = event["body"]
        entry.status = event.get("status") or "complete"
        if isinstance(event.get("index"), int):
            entry.index = event["index"]
        entry.pos = (entry.seq, entry.index + 1)
        return "applied"

    def _note_position(self, text: str) -> None:
        seq, _, index = text.partition(".")
        if not (seq.isdigit() and index.isdigit()):
            return
        seq, index = int(seq), int(index)
        entry = self.messages.get(seq)
        if (
            entry
            and (entry.pos is None or index >= entry.pos[1])
            and (entry.status != STREAMING or index <= entry.index)
        ):
            entry.pos = (seq, index)

    def _sorted(self) -> list[Entry]:
        return [self.messages[seq] for seq in sorted(self.messages)]

    @property
    def cursor(self) -> str:
        """Stops at a reply still streaming, so a resume also brings its missing end."""
        cursor = (0, 0)
        for entry in self._sorted():
            if entry.status == STREAMING:
                if entry.pos is not None:
                    cursor = entry.pos
                break
            cursor = entry.pos or (entry.seq, 0)
        return f"{cursor[0]}.{cursor[1]}"

    def transcript(self) -> list[tuple[int, str, str]]:
        return [(entry.seq, entry.body, entry.status) for entry in self._sorted()]

    def reply(self, seq: int) -> Entry | None:
        return self.messages.get(seq)

    def shown_twice(self) -> list[tuple]:
        return sorted({item for item in self.shown if self.shown.count(item) > 1})


async def customer_on(
    cluster: FaultCluster,
    token: str,
    *,
    want: int | None = None,
    avoid: int | None = None,
    name: str = "customer",
    attempts: int = 40,
    registry: list | None = None,
) -> TranscriptClient:
    """A transcript client through nginx whose socket landed on Daphne `want` (or on any but `avoid`).

    `registry` collects every client started, so the caller can close them all even if this fails.
    """
    registry = [] if registry is None else registry
    for _ in range(attempts):
        client = TranscriptClient(cluster.port, token, name=name)
        registry.append(client)
        await client.start()
        if (want is None or client.upstream == want) and (avoid is None or client.upstream != avoid):
            return client
        await client.close()
        registry.remove(client)
    raise AssertionError(f"{name}: no socket landed on Daphne {want} (avoiding {avoid}) in {attempts} tries")


def wait_upstream(cluster: FaultCluster, port: int, timeout: float = 15) -> None:
    """Block until nginx routes requests to Daphne `port` again (it benches a failed upstream for a while)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{cluster.url}/healthz", timeout=3) as response:
                if upstream_port(response.headers) == port:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"nginx did not route to Daphne {port} within {timeout} s")
        time.sleep(0.1)  # nginx's upstream state is not observable but by asking it


async def close_all(*clients) -> None:
    """Close transcript clients and agent sockets, whatever state they are in."""
    for client in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), 10)
