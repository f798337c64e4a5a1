"""Server-Sent Events through a live Daphne (one process, no services): real streaming, resume, retry."""

import json
import sqlite3
import uuid
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fake_openai import FakeOpenAI
from tests.integration.processes import embedded_env, manage, start_daphne

pytestmark = pytest.mark.integration
TOKENS = ["Orders ", "placed ", "before ", "2 pm ", "ship ", "the ", "same ", "business ", "day."]


@pytest.fixture(scope="module")
def provider():
    with FakeOpenAI(tokens=TOKENS) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, provider):
    env = embedded_env(
        tmp_path_factory.mktemp("sse"), AI_PROVIDER="openai", AI_BASE_URL=provider.base_url, AI_API_KEY="sk-sse"
    )
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--open-all-hours")
    process, port = start_daphne(env, "daphne-sse")
    yield f"http://127.0.0.1:{port}", env
    process.stop()


def token(base: str) -> str:
    response = httpx.post(f"{base}/api/widget/demo-shop/session", json={}, headers={"Origin": base})
    response.raise_for_status()
    return response.json()["visitor_token"]


def records(response):
    """Parse an SSE response into (event, data, id) records as they arrive."""
    event, data, record_id = None, [], None
    for line in response.iter_lines():
        if line == "":
            if data:
                yield event, "\n".join(data), record_id
            event, data, record_id = None, [], None
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line.startswith("id: "):
            record_id = line[4:]


def database_rows(env, sql, params=()):
    with sqlite3.connect(urlsplit(env["DATABASE_URL"]).path) as connection:
        return connection.execute(sql, params).fetchall()


def test_post_streams_chunks_before_the_provider_finishes_then_done(server, provider):
    base, env = server
    provider.configure(pause_after=2)
    headers = {"Authorization": f"Bearer {token(base)}", "Accept": "text/event-stream"}
    body = {"client_id": str(uuid.uuid4()), "body": "When do orders ship?"}
    with httpx.stream("POST", f"{base}/api/widget/messages", json=body, headers=headers, timeout=20) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        stream = records(response)
        _, first, first_id = next(stream)
        chunk = json.loads(first)
        assert chunk["object"] == "chat.completion.chunk" and chunk["choices"][0]["delta"]["content"]
        assert not provider.streams[-1].finished.is_set(), "the first chunk waited for the whole answer"
        provider.release()
        texts, finish, ids = [chunk["choices"][0]["delta"]["content"]], None, [first_id]
        for _, data, record_id in stream:
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            ids.append(record_id)
            if chunk["choices"][0]["finish_reason"]:
                finish = chunk
            else:
                texts.append(chunk["choices"][0]["delta"]["content"])
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["parley_outcome"] == "answered" and finish["parley_meta"]["language"] == "en"
    [(stored_body, status)] = database_rows(
        env, "select body, status from chat_message where author_kind='bot' order by id desc limit 1"
    )
    assert "".join(texts) == stored_body == "".join(TOKENS) and status == "complete"
    assert all(record_id for record_id in ids)


def test_retried_post_attaches_to_the_same_reply_and_resumes_from_last_event_id(server, provider):
    base, env = server
    provider.configure(pause_after=3)
    bearer = token(base)
    headers = {"Authorization": f"Bearer {bearer}", "Accept": "text/event-stream"}
    body = {"client_id": str(uuid.uuid4()), "body": "Do you ship the same day?"}
    received = ""
    with httpx.stream("POST", f"{base}/api/widget/messages", json=body, headers=headers, timeout=20) as response:
        _, data, last_id = next(records(response))
        received += json.loads(data)["choices"][0]["delta"]["content"]
    # The connection dropped mid-reply (disconnect is not stop); the client retries the same POST.
    provider.release()
    retry_headers = {**headers, "Last-Event-ID": last_id}
    with httpx.stream("POST", f"{base}/api/widget/messages", json=body, headers=retry_headers, timeout=20) as response:
        for _, data, _ in records(response):
            if data == "[DONE]":
                break
            content = json.loads(data)["choices"][0]["delta"].get("content")
            received += content or ""
    assert received == "".join(TOKENS)
    rows = database_rows(env, "select count(*) from chat_message where client_id = ?", (body["client_id"],))
    assert rows == [(1,)]
    replies = database_rows(
        env,
        "select count(*) from chat_message m join chat_message t on m.trigger_id = t.id where t.client_id = ?",
        (body["client_id"],),
    )
    assert replies == [(1,)]


def test_event_stream_resumes_mid_reply_from_last_event_id(server, provider):
    base, env = server
    provider.configure(pause_after=3)
    bearer = token(base)
    auth = {"Authorization": f"Bearer {bearer}"}
    with httpx.stream("GET", f"{base}/api/widget/events", headers=auth, timeout=20) as events:
        stream = records(events)
        assert next(stream)[0] == "welcome"
        sent = httpx.post(
            f"{base}/api/widget/messages", json={"client_id": str(uuid.uuid4()), "body": "Shipping?"}, headers=auth
        )
        assert sent.json()["type"] == "message.ack"
        text, last_id, index = "", None, -1
        for event, data, record_id in stream:
            if event == "reply.delta":
                frame = json.loads(data)
                assert frame["index"] == index + 1
                text, index, last_id = text + frame["text"], frame["index"], record_id
                break
    with httpx.stream(
        "GET", f"{base}/api/widget/events", headers={**auth, "Last-Event-ID": last_id}, timeout=20
    ) as events:
        for event, data, _record_id in records(events):
            frame = json.loads(data)
            if event == "welcome":
                provider.release()  # the reply goes on only once the client is back: a true mid-stream resume
            elif event == "reply.snapshot":
                assert frame["index"] >= index
                text, index = frame["text"], frame["index"]
            elif event == "reply.delta":
                assert frame["index"] == index + 1, "a delta twice or missing"
                text, index = text + frame["text"], frame["index"]
            elif event == "reply.end":
                assert text == frame["body"] == "".join(TOKENS)
                break


def test_ticket_opens_the_stream_for_native_eventsource(server):
    base, _ = server
    bearer = token(base)
    ticket = httpx.post(f"{base}/api/widget/ticket", headers={"Authorization": f"Bearer {bearer}"}).json()["ticket"]
    with httpx.stream("GET", f"{base}/api/widget/events", params={"ticket": ticket}, timeout=10) as events:
        first_line = next(events.iter_lines())
        assert first_line.startswith("retry: ")
    assert httpx.get(f"{base}/api/widget/events", params={"ticket": "forged"}).status_code == 401
    assert httpx.get(f"{base}/api/widget/events", headers={"Authorization": f"Bearer {ticket}"}).status_code == 401


def test_bad_requests_get_clear_errors(server):
    base, _ = server
    auth = {"Authorization": f"Bearer {token(base)}"}
    assert httpx.post(f"{base}/api/widget/messages", json={"body": "x"}).status_code == 401
    bad = httpx.post(f"{base}/api/widget/messages", json={"client_id": "nope", "body": "x"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
    long = httpx.post(
        f"{base}/api/widget/messages", json={"client_id": str(uuid.uuid4()), "body": "x" * 4001}, headers=auth
    )
    assert long.json()["error"]["code"] == "too_long"
    assert httpx.get(f"{base}/api/widget/events", params={"cursor": "a.b"}, headers=auth).status_code == 400
    assert httpx.post(f"{base}/api/widget/replies/999999/stop", headers=auth).status_code == 404
