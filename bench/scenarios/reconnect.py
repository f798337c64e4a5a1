"""Scenario 5: every widget dropped at once while agents keep writing; all resume from their cursors.

Measures the time until every client has its welcome again, and, once traffic stops and the server has
answered every send, messages each client never got (lost) and got twice (duplicates): both must be 0 for Parley.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import traceback
import uuid
from functools import partial

from bench import parley_client
from bench.pool import ClientPool, split
from bench.servers import BaselineServer, FloorServer, ParleyServer
from bench.wire import bounded, send_json, ws_open

TITLE = "Reconnect storm"
# storm_timeout_s bounds the first connects and the storm each; clients not back by then are counted as not back.
# It also bounds the wait for the server to answer the last sends; settle_s is how long customers then get to
# receive what was acknowledged.
FULL = {
    "clients": 2000,
    "per_site": 10,
    "rate": 50,
    "warm_s": 3.0,
    "after_s": 3.0,
    "settle_s": 3.0,
    "storm_timeout_s": 60,
    "processes": 2,
}
SMOKE = {
    "clients": 20,
    "per_site": 10,
    "rate": 20,
    "warm_s": 0.5,
    "after_s": 0.5,
    "settle_s": 2.0,
    "storm_timeout_s": 30,
    "processes": 1,
    "systems": ["Parley", "minimal relay"],
}
SYSTEMS = ["Parley", "minimal relay", "raw floor"]
FIRST_DELAY_S = 0.5  # the widget's first reconnect waits a full-jitter delay up to 500 ms (static/widget/connection.js)


class Customer:
    """One widget: what it received, by seq (Parley) or by the sender's counter (baselines)."""

    def __init__(self, key, open_socket, progress: asyncio.Event):
        self.key = key
        self.open_socket = open_socket  # async (customer) -> connection, after its welcome
        self.progress = progress  # set whenever a frame was applied: the final count waits on it
        self.connection = None
        self.received: list[int] = []
        self.dropped = self.back = None
        self.reader: asyncio.Task | None = None
        self.repairing = False
        self.repairs = 0
        self.last_error = ""
        self.reader_error = ""
        self.early = 0

    @property
    def last(self) -> int:
        return max(self.received, default=0)


class Ledger:
    """What the customers must end up with, and the sends the server has not answered yet."""

    def __init__(self):
        self.expected: dict = {}  # customer key -> seqs acknowledged to agents (Parley) or counters sent (baselines)
        self.unanswered: set[str] = set()  # client_ids of Parley sends without an ack or error yet
        self.refused = 0
        self.progress = asyncio.Event()  # set on every answer and every frame a customer applies

    def settled(self, customers: list[Customer]) -> bool:
        """Every customer holds everything expected of it."""
        return all(self.expected.get(c.key, set()).issubset(c.received) for c in customers)


def _parley_frames(customer: Customer, frame: dict, resend) -> None:
    """Apply a frame as the widget does: a gap (prev_seq past the last seq held) is repaired with `resume`.

    While a repair is under way, live messages are left to the replay: everything the server sent before
    its `replay` frame is in that replay, so counting both would report duplicates the server never sent.
    """
    kind = frame.get("type")
    if kind in ("welcome", "replay"):
        customer.repairing = False
        for event in frame["events"]:
            if event.get("type") == "message.new":
                customer.received.append(event["message"]["seq"])
    elif kind == "message.new" and not customer.repairing:
        if frame.get("prev_seq", 0) > customer.last:
            customer.repairing = True
            customer.repairs += 1
            resend({"type": "resume", "cursor": f"{customer.last}.0", "conversation": customer.key})
        else:
            customer.received.append(frame["message"]["seq"])


async def _read(customer: Customer, connection, parley: bool) -> None:
    def resend(frame):
        asyncio.ensure_future(send_json(connection, frame))

    try:
        async for raw in connection:
            frame = json.loads(raw)
            if parley:
                _parley_frames(customer, frame, resend)
            elif frame.get("from") == "a":
                customer.received.append(frame["n"])
            customer.progress.set()
    except Exception as exc:
        # The socket is dropped by cancelling this task; anything else ends the customer's reading early,
        # so it is reported beside the losses it causes.
        customer.reader_error = repr(exc)[:160]


async def _connect(customer: Customer, parley: bool, deadline: float) -> None:
    """Open (or reopen) with backoff like the widget's until the deadline, then keep reading."""
    attempt = 0
    while True:
        try:
            async with asyncio.timeout(max(0.1, deadline - time.time())):
                customer.connection = await customer.open_socket(customer)
            break
        except Exception as exc:
            attempt += 1
            customer.last_error = repr(exc)[:160]
            if time.time() >= deadline:
                return  # not back in time: counted as not back, its messages as lost
            await asyncio.sleep(random.uniform(0, min(5.0, FIRST_DELAY_S * 2**attempt)))
    customer.back = time.time()
    customer.progress.set()
    customer.reader = asyncio.create_task(_read(customer, customer.connection, parley))


async def _agents(share: dict, ledger: Ledger, tasks: list) -> tuple[list, list]:
    """Open the senders (a desk socket per site, or an agent socket per room); (customers, senders)."""
    expected, progress = ledger.expected, ledger.progress
    customers, senders = [], []
    if share["kind"] == "parley":
        port = share["port"]

        async def site_desk(site):
            # A busy server drops slow desk handshakes (Daphne's connect timeout): keep trying, like the desk does.
            for attempt in range(10):
                try:
                    desk = await parley_client.agent(port, site["cookie"], [])
                    break
                except Exception:
                    if attempt == 9:
                        raise
                    await asyncio.sleep(random.uniform(0.5, 2.0))
            tasks.append(asyncio.create_task(_acks(desk, ledger)))
            return site, desk

        for site, desk in await _all(bounded([site_desk(site) for site in share["sites"]], 5)):
            for c in site["conversations"]:

                async def open_widget(customer, token=c["token"]):
                    connection, welcome = await parley_client.customer(port, token, f"{customer.last}.0", customer.key)
                    customer.early += len(welcome["_before"])
                    for frame in welcome["_before"]:
                        _parley_frames(customer, frame, lambda frame: None)
                    _parley_frames(customer, welcome, lambda frame: None)
                    return connection

                customers.append(Customer(c["id"], open_widget, progress))
                senders.append((c["id"], partial(_desk_send, desk, ledger)))
        return customers, senders
    for url, agent in zip(share["urls"], await _all(bounded([ws_open(u, origin=None) for u in share["urls"]], 50))):

        async def open_room(customer, url=url):
            return await ws_open(url, origin=None)

        customers.append(Customer(url, open_room, progress))
        counter = {"n": 0}

        async def send(key, agent=agent, counter=counter):
            counter["n"] += 1
            expected.setdefault(key, set()).add(counter["n"])
            await send_json(agent, {"from": "a", "n": counter["n"]})

        senders.append((url, send))
    return customers, senders


async def _desk_send(desk, ledger: Ledger, conversation: int) -> None:
    """An agent's message to a conversation, awaited by the ledger until the server answers it."""
    client_id = str(uuid.uuid4())
    ledger.unanswered.add(client_id)
    try:
        await send_json(
            desk, {"type": "message.send", "conversation": conversation, "client_id": client_id, "body": "hello"}
        )
    except Exception:
        ledger.unanswered.discard(client_id)  # never left: nothing will answer it
        raise


async def _until(done, progress: asyncio.Event, timeout: float) -> bool:
    """Wait until done() holds, checking again on each progress signal; False if the timeout came first."""
    try:
        async with asyncio.timeout(timeout):
            while not done():
                progress.clear()
                await progress.wait()
    except TimeoutError:
        return False
    return True


async def _settle(
    ledger: Ledger,
    customers: list[Customer],
    answer_timeout: float,
    settle_s: float,
    answer_readers: list[asyncio.Task],
) -> bool:
    """Wait until every send is answered, then up to settle_s until every customer holds what was acknowledged.

    After a storm the server answers sends many seconds late, and a customer's copy leaves after the agent's ack:
    a count at a fixed time after the last send took acknowledged messages still on their way for lost. The
    answer readers stop before the customers' wait, so an ack that comes late cannot move what is expected.
    True when everything arrived; False when a bound ran out first (what is missing then counts as lost).
    """
    answered = await _until(lambda: not ledger.unanswered, ledger.progress, answer_timeout)
    for reader in answer_readers:
        reader.cancel()
    return await _until(lambda: ledger.settled(customers), ledger.progress, settle_s) and answered


async def _all(gathered) -> list:
    results = await gathered
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise failed[0]
    return results


async def storm(share: dict, link) -> dict:
    """Client process: senders first (on the coordinator's word, customers), traffic, drop, resume, report."""
    parley = share["kind"] == "parley"
    ledger, tasks = Ledger(), []
    expected = ledger.expected
    customers, senders = await _agents(share, ledger, tasks)
    link.report({"agents": len(senders)})
    await link.wait(600)  # every process's senders are in: a crowd of widgets would starve their handshakes
    await bounded([_connect(c, parley, time.time() + share["timeout"]) for c in customers], 100)
    link.report({"ready": sum(1 for c in customers if c.back)})

    stop = asyncio.Event()
    traffic = asyncio.create_task(_traffic(senders, share["rate"], stop))
    await link.wait(600)  # "drop"
    for customer in customers:
        customer.dropped = time.time()
        if customer.connection is not None:
            customer.connection.transport.abort()  # like a network cut: no close handshake
            customer.reader.cancel()
        customer.back = None
    deadline = time.time() + share["timeout"]
    await asyncio.gather(*(_reconnect_later(c, parley, deadline) for c in customers))
    link.report({"back": sum(1 for c in customers if c.back)})
    await link.wait(600)  # "quiet": stop sending, let the last messages land
    stop.set()
    await traffic
    await _settle(ledger, customers, share["timeout"], share["settle_s"], tasks)
    lost = dupes = 0
    examples = []
    for customer in customers:
        missing = expected.get(customer.key, set()) - set(customer.received)
        lost += len(missing)
        dupes += len(customer.received) - len(set(customer.received))
        if missing or len(customer.received) != len(set(customer.received)):
            examples.append({"key": customer.key, "missing": sorted(missing), "received": customer.received[-12:]})
    return {
        "dropped": min(c.dropped for c in customers),
        "back": [c.back for c in customers],
        "sent": sum(len(v) for v in expected.values()),
        "lost": lost,
        "duplicates": dupes,
        "examples": examples[:5],
        "repairs": sum(c.repairs for c in customers),
        "early": sum(c.early for c in customers),
        "unanswered": len(ledger.unanswered),
        "refused": ledger.refused,
        "connect_errors": sorted({c.last_error for c in customers if c.last_error})[:3],
        "reader_errors": sorted({c.reader_error for c in customers if c.reader_error})[:3],
    }


async def _reconnect_later(customer: Customer, parley: bool, deadline: float) -> None:
    await asyncio.sleep(random.uniform(0, FIRST_DELAY_S))
    await _connect(customer, parley, deadline)


async def _acks(desk, ledger: Ledger) -> None:
    """An agent's acks name the seq each message got: the set its customer must end up with."""
    try:
        async for raw in desk:
            frame = json.loads(raw)
            if frame.get("type") == "message.ack":
                ledger.expected.setdefault(frame["conversation"], set()).add(frame["seq"])
                ledger.unanswered.discard(frame["client_id"])
                ledger.progress.set()
            elif frame.get("type") == "error" and frame.get("ref") in ledger.unanswered:
                ledger.unanswered.discard(frame["ref"])  # refused: stored nowhere, so expected nowhere
                ledger.refused += 1
                ledger.progress.set()
    except Exception:
        pass


async def _traffic(senders: list, rate: float, stop: asyncio.Event) -> None:
    """Send at `rate` until `stop` is set; a send is never cut off halfway, so each one is answered."""
    loop = asyncio.get_running_loop()
    started, sent = loop.time(), 0
    while not stop.is_set():
        due = int((loop.time() - started) * rate)
        while sent < due and not stop.is_set():
            key, send = senders[sent % len(senders)]
            try:
                await send(key)
            except Exception:
                pass
            sent += 1
        await asyncio.sleep(0.005)


def _shares(system: str, server, p: dict) -> list[dict]:
    common = {"rate": p["rate"] / p["processes"], "settle_s": p["settle_s"], "timeout": p["storm_timeout_s"]}
    if system == "Parley":
        grouped = parley_client.by_site(server.fixture["conversations"])
        sites = [
            {"cookie": server.fixture["sites"][i]["cookie"], "conversations": c} for i, c in sorted(grouped.items())
        ]
        return [
            {"kind": "parley", "port": server.port, "sites": part, **common} for part in split(sites, p["processes"])
        ]
    base = f"ws://127.0.0.1:{server.port}/ws/room/" if system == "minimal relay" else f"ws://127.0.0.1:{server.port}/"
    urls = [f"{base}s{i}/" if system == "minimal relay" else f"{base}s{i}" for i in range(p["clients"])]
    return [{"kind": "room", "urls": part, **common} for part in split(urls, p["processes"])]


def _server(system: str, context, p: dict):
    if system == "Parley":
        return ParleyServer(
            context.databases, fixture={"conversations": p["clients"], "per_site": p["per_site"], "owner": "agent"}
        )
    if system == "minimal relay":
        return BaselineServer("bench.baselines.relay_asgi:application")
    return FloorServer()


def _measure(system: str, context, p: dict) -> dict:
    with _server(system, context, p) as server, ClientPool(storm, _shares(system, server, p)) as pool:
        pool.gather(300)
        pool.tell("customers")
        ready = sum(r["ready"] for r in pool.gather(p["storm_timeout_s"] + 120))
        time.sleep(p["warm_s"])
        pool.tell("drop")
        back = sum(r["back"] for r in pool.gather(p["storm_timeout_s"] + 60))
        time.sleep(p["after_s"])
        pool.tell("quiet")
        results = pool.results(p["storm_timeout_s"] + p["settle_s"] + 60)
    dropped = min(r["dropped"] for r in results)
    times = [t for r in results for t in r["back"]]
    all_back = None if None in times else round(max(times) - dropped, 2)
    return {
        "system": system,
        "clients": ready,
        "back": back,
        "all_back_s": all_back,
        "messages": sum(r["sent"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "duplicates": sum(r["duplicates"] for r in results),
        "gap_repairs": sum(r["repairs"] for r in results),
        "frames_before_welcome": sum(r.get("early", 0) for r in results),
        "unanswered": sum(r["unanswered"] for r in results),
        "refused": sum(r["refused"] for r in results),
        "examples": [e for r in results for e in r["examples"]][:5],
        "connect_errors": "; ".join(e for r in results for e in r["connect_errors"])[:300] or None,
        "reader_errors": "; ".join(e for r in results for e in r["reader_errors"])[:300] or None,
    }


def run(context) -> dict:
    p = context.params(sys.modules[__name__])
    rows = []
    for system in p.get("systems", SYSTEMS):
        try:
            rows.append(_measure(system, context, p))
        except Exception:
            traceback.print_exc()
            rows.append(
                {"system": system, "clients": p["clients"], "all_back_s": None, "error": traceback.format_exc()[-600:]}
            )
        print(f"   {system}: {rows[-1]}", flush=True)
    parley = rows[0]
    comparisons = []
    for other in rows[1:]:
        for key, label in (
            ("all_back_s", "seconds until all are back"),
            ("lost", "messages lost"),
            ("duplicates", "duplicates"),
        ):
            value, base = parley.get(key), other.get(key)
            comparisons.append(
                {
                    "what": f"{label}, {parley.get('clients')} clients",
                    "parley": value,
                    "baseline": other["system"],
                    "baseline_value": base,
                    "ratio": round(value / base, 2) if value is not None and base else None,
                }
            )
    notes = [
        f"{p['clients']} widget sockets (Parley: hello, then cursor resume; baselines: rejoin the room) are "
        f"aborted at once while agents send {p['rate']} messages/s across the conversations; each reconnects "
        "after a random 0–0.5 s (the widget's first backoff) and retries with backoff.",
        "Lost: messages acknowledged to the agent that the customer never received, counted once the server has "
        "answered every send and the customers had settle_s more; duplicates: received twice. "
        "The baselines have no cursors, so what is sent during the gap is lost by design.",
        "Parley's client repairs a live gap the way the widget does (prev_seq > last seq → resume).",
    ]
    columns = ["system", "clients", "back", "all_back_s", "messages", "lost", "duplicates", "gap_repairs"]
    plots = [
        {
            "title": "Reconnect storm: seconds until all clients are back",
            "xlabel": "clients",
            "ylabel": "seconds",
            "series": {r["system"]: [[r.get("clients") or 0, r.get("all_back_s")]] for r in rows},
        }
    ]
    return {"rows": rows, "columns": columns, "comparisons": comparisons, "notes": notes, "plots": plots}
