"""The client is the attacker holding a leaked key: it cancels streams at random points over raw
sockets, in both wire formats, and asks for many answers at once. However it ends its calls, the key's
budget is never exceeded, and no call that carried content is charged nothing."""

from __future__ import annotations

import json
import random
import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from perimeter_harness import nanos

PROMPT_WORDS = 40


def make_budgeted_key(gateway, budget_usd: str) -> dict:
    name = "cheat-" + secrets.token_hex(4)
    return gateway.cli_json("keys", "create", "--name", name, "--env", "cheat", "--budget", budget_usd, "--period", "month")


def key_budget(gateway, key_id: str) -> dict:
    return gateway.cli_json("keys", "show", key_id)["budget"]


def cancelled_stream(gateway, key: str, anthropic: bool, events_before_leaving: int, tag: str) -> tuple[int, str | None]:
    """Starts a stream over a raw socket, reads `events_before_leaving` events, and leaves: (status, request id)."""
    prompt = f"{tag} " + " ".join(f"word{i}" for i in range(PROMPT_WORDS))
    if anthropic:
        path = "/v1/messages"
        body = {"model": "claude-haiku-4-5", "max_tokens": 60, "stream": True, "messages": [{"role": "user", "content": prompt}]}
        auth = f"x-api-key: {key}\r\nanthropic-version: 2023-06-01\r\n"
    else:
        path = "/v1/chat/completions"
        body = {"model": "gpt-4o-mini", "max_tokens": 60, "stream": True, "messages": [{"role": "user", "content": prompt}]}
        auth = f"Authorization: Bearer {key}\r\n"
    payload = json.dumps(body).encode()
    url = urlsplit(gateway.url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\nContent-Type: application/json\r\n{auth}"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(head + payload)
        received = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            data = connection.recv(65536)
            if not data:
                break
            received += data
            end = received.find(b"\r\n\r\n")
            if end < 0:
                continue
            if not received.startswith(b"HTTP/1.1 200"):
                break
            if received[end:].count(b"data: ") >= events_before_leaving:
                break
        # Leaves without reading the rest: the socket closes here.
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else 0
    request_id = None
    for line in received.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-perimeter-request-id":
            request_id = value.strip().decode()
    return status, request_id


def wait_for_rows(gateway, ids: list[str], timeout: float = 20) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = gateway.ended_calls(ids)
        if len(rows) == len(ids) or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def assert_charged_for_content(rows: dict[str, dict]) -> None:
    for row in rows.values():
        if row["status"] != 200:
            continue
        assert row["usage_source"] in ("provider", "estimated"), row
        if row["outcome"] in ("client_cancelled", "stream_cut"):
            assert row["usage_source"] == "estimated", row
        # Every answered stream reached the provider: input at least, never $0.
        assert row["input_tokens"] > 0 and nanos(row["cost_usd"]) > 0, row


def test_cancelling_streams_at_random_points_exhausts_the_budget_instead_of_spending_for_free(gateway, upstream):
    budget_nanos = 1_000_000  # $0.001: a few dozen cancelled calls at most
    key = make_budgeted_key(gateway, "0.001")
    generator = random.Random(0xC0FFEE)
    tag = "cheat-" + secrets.token_hex(6)
    ids, refused = [], 0
    for attempt in range(120):
        status, request_id = cancelled_stream(
            gateway, key["key"], anthropic=attempt % 2 == 1, events_before_leaving=generator.randint(1, 25), tag=tag)
        if status == 429:
            refused += 1
            if refused >= 3:
                break
            continue
        assert status == 200, status
        ids.append(request_id)
    # Before this fix a cancelled stream cost $0, so the budget never ran out.
    assert refused >= 3, f"{len(ids)} cancelled streams never exhausted a $0.001 budget"
    rows = wait_for_rows(gateway, ids)
    assert len(rows) == len(ids)
    assert_charged_for_content(rows)
    assert any(r["outcome"] == "client_cancelled" for r in rows.values())
    budget = key_budget(gateway, key["id"])
    assert nanos(budget["spent_usd"]) <= budget_nanos, budget
    assert nanos(budget["reserved_usd"]) == 0, budget
    assert nanos(budget["spent_usd"]) == sum(nanos(r["cost_usd"]) for r in rows.values())


def test_200_concurrent_cheating_calls_never_exceed_the_budget(gateway, upstream):
    budget_nanos = 2_000_000
    key = make_budgeted_key(gateway, "0.002")
    tag = "burst-" + secrets.token_hex(6)
    generator = random.Random(0xBADC0DE)
    plans = [(i % 3, generator.randint(1, 30)) for i in range(200)]

    def one(plan):
        kind, events = plan
        if kind == 2:
            # n answers asked at once, not streamed: reserved n times one answer's worst case.
            body = json.dumps(
                {"model": "gpt-4o-mini", "max_tokens": 60, "n": 8, "messages": [{"role": "user", "content": f"{tag} n"}]}
            ).encode()
            status, headers, _ = gateway.http(
                "POST", "/v1/chat/completions", body,
                {"Authorization": f"Bearer {key['key']}", "Content-Type": "application/json"})
            return status, headers.get("x-perimeter-request-id")
        return cancelled_stream(gateway, key["key"], anthropic=kind == 1, events_before_leaving=events, tag=tag)

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, plans))
    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 429}, sorted(set(statuses))
    assert statuses.count(429) > 0
    ids = [request_id for status, request_id in results if request_id]
    rows = wait_for_rows(gateway, ids)
    assert len(rows) == len(ids)
    assert_charged_for_content(rows)
    budget = key_budget(gateway, key["id"])
    assert nanos(budget["spent_usd"]) <= budget_nanos, budget
    assert nanos(budget["reserved_usd"]) == 0, budget
