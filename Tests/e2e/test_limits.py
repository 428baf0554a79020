"""Per-key limits through the real gateway: budgets (worst-case reservations under concurrency, shared
environment budgets, exact settlement of streamed calls), rpm and tpm, IP allowlists and trusted
proxies, models, operations, tools, expiry, unknown prices, and changing limits on a live key. Every
refusal is checked in the SDK's terms (exception type, status, code) and in the call log."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import secrets
import socket
import threading
import time
from decimal import ROUND_HALF_UP, Decimal

import anthropic
import openai
import pytest

import upstream_double as up
from perimeter_harness import anthropic_client, expected_cost_nanos, nanos, openai_client

GPT_4O_MINI = {"input": 0.15, "output": 0.60, "cached_input": 0.075}
CLAUDE_SONNET_4_5 = {"input": 3, "output": 15, "cached_input": 0.30, "cache_write": 3.75}
# Nanodollars per token, exact: (USD per 1M tokens) * 1000.
GPT_4O_MINI_IN_NANOS, GPT_4O_MINI_OUT_NANOS = 150, 600
CLAUDE_IN_NANOS, CLAUDE_OUT_NANOS = 3000, 15000
GPT_4O_CEILING, CLAUDE_SONNET_4_5_CEILING = 16384, 64000

CHAT_USAGE = {
    "input_tokens": up.CHAT_PROMPT_TOKENS,
    "cached_input_tokens": up.CHAT_CACHED_TOKENS,
    "cache_write_tokens": 0,
    "output_tokens": up.CHAT_COMPLETION_TOKENS,
}
CHAT_COST_NANOS = expected_cost_nanos(CHAT_USAGE, GPT_4O_MINI)  # 8*0.15 + 3*0.075 + 7*0.60 = 5.625 µ$
MESSAGES_USAGE = {
    "input_tokens": up.MESSAGES_INPUT_TOKENS + up.MESSAGES_CACHE_READ_TOKENS + up.MESSAGES_CACHE_CREATION_TOKENS,
    "cached_input_tokens": up.MESSAGES_CACHE_READ_TOKENS,
    "cache_write_tokens": up.MESSAGES_CACHE_CREATION_TOKENS,
    "output_tokens": up.MESSAGES_OUTPUT_TOKENS,
}
MESSAGES_COST_NANOS = expected_cost_nanos(MESSAGES_USAGE, CLAUDE_SONNET_4_5)  # (13*3 + 5*0.3 + 2*3.75 + 9*15) µ$

# MARK: the concurrency request: a fixed body, so its worst case is known to the nanodollar.

CONCURRENT_CALLS = 200
FITTING_CALLS = 10
UPSTREAM_DELAY = 2.5  # seconds the double holds each admitted call, so all of them are in flight at once
PROBE_MAX_TOKENS = 100
PROBE_BODY = json.dumps(
    {
        "model": "gpt-4o-mini",
        "max_tokens": PROBE_MAX_TOKENS,
        "messages": [{"role": "user", "content": "concurrency probe " + "x" * 16}],
    },
    separators=(",", ":"),
).encode()
# Worst case: one input token per body byte, plus max_tokens of output.
PROBE_RESERVATION_NANOS = len(PROBE_BODY) * GPT_4O_MINI_IN_NANOS + PROBE_MAX_TOKENS * GPT_4O_MINI_OUT_NANOS
# 10.5 reservations: ten fit while they are all in flight, the eleventh does not.
PROBE_BUDGET_NANOS = PROBE_RESERVATION_NANOS * 21 // 2
assert PROBE_RESERVATION_NANOS % 2 == 0 and PROBE_BUDGET_NANOS * 2 == PROBE_RESERVATION_NANOS * 21
assert FITTING_CALLS * PROBE_RESERVATION_NANOS <= PROBE_BUDGET_NANOS < (FITTING_CALLS + 1) * PROBE_RESERVATION_NANOS


def usd(nanodollars: int) -> str:
    """Nanodollars as an exact decimal string of dollars, for --budget and YAML."""
    sign = "-" if nanodollars < 0 else ""
    whole, fraction = divmod(abs(nanodollars), 10**9)
    return f"{sign}{whole}.{fraction:09d}"


def money_text(nanodollars: int) -> str:
    """How the gateway writes an amount in messages and tables (Money.description, replayed in the
    same double arithmetic): 6 decimals under $1, 4 under $100, halves rounded away from zero."""
    value = nanodollars / 1e9
    digits = 2 if abs(value) >= 100 else 4 if abs(value) >= 1 else 6
    scale = 10**digits
    scaled = int(Decimal(abs(value) * scale).to_integral_value(ROUND_HALF_UP))
    whole, fraction = divmod(scaled, scale)
    sign = "-" if value < 0 and scaled else ""
    return f"${sign}{whole}.{fraction:0{digits}d}"


def month_bounds(now: dt.datetime) -> tuple[str, str]:
    start = dt.datetime(now.year, now.month, 1, tzinfo=dt.timezone.utc)
    end = dt.datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return start.strftime("%Y-%m-%dT%H:%M:%S.000Z"), end.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# MARK: gateways and helpers


@pytest.fixture(scope="module")
def gw(gateway_factory_session):
    """The limits gateway: the shared config plus a model with no known price."""
    return gateway_factory_session("limits", config={"extra_openai_models": ("my-custom-model",)})


@pytest.fixture(scope="module")
def busy_gw(gateway_factory_session):
    """For the concurrency tests: a long upstream timeout, and an environment with a shared budget."""
    return gateway_factory_session(
        "limits-busy",
        config={
            "upstream_timeout": 30,
            "extra_yaml": f"environments:\n  shared: {{ budget: {usd(PROBE_BUDGET_NANOS)}, period: month }}\n",
        },
    )


@pytest.fixture(scope="module")
def proxied_gw(gateway_factory_session):
    """A gateway behind a reverse proxy on 127.0.0.1, whose X-Forwarded-For it believes."""
    return gateway_factory_session("limits-proxied", config={"extra_yaml": 'trusted_proxies: ["127.0.0.1/32"]\n'})


def make_key(gateway, *limit_flags: str, env: str = "limits") -> dict:
    name = "lim-" + secrets.token_hex(4)
    return gateway.cli_json("keys", "create", "--name", name, "--env", env, *limit_flags)


def admin(gateway, method: str, path: str, body=None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {gateway.admin_token}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    status, _, raw = gateway.http(method, "/admin/v1" + path, data, headers)
    return status, json.loads(raw)


def key_view(gateway, key_id: str) -> dict:
    status, body = admin(gateway, "GET", f"/keys/{key_id}")
    assert status == 200, body
    return body


def chat(client, marker: str = "", **kwargs):
    kwargs.setdefault("model", "gpt-4o-mini")
    kwargs.setdefault("messages", [{"role": "user", "content": f"hello {marker}"}])
    return client.chat.completions.with_raw_response.create(**kwargs)


def request_id_of(error: Exception) -> str:
    return error.response.headers["x-perimeter-request-id"]


def openai_error(error: openai.APIStatusError, status: int, code: str, error_type: str) -> str:
    """Checks an SDK error's status and OpenAI-shaped body; returns its message."""
    assert error.status_code == status, (error.status_code, error.response.text)
    body = error.response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["type"] == error_type, body
    assert error.code == code
    return body["error"]["message"]


def anthropic_error(error: anthropic.APIStatusError, status: int, error_type: str) -> str:
    assert error.status_code == status, (error.status_code, error.response.text)
    body = error.response.json()
    assert set(body) == {"type", "error"} and body["type"] == "error", body
    assert set(body["error"]) == {"type", "message"}, body
    assert body["error"]["type"] == error_type, body
    return body["error"]["message"]


def assert_denied(gateway, request_id: str, code: str, status: int, **expected) -> dict:
    call = gateway.wait_for_call(request_id)
    assert call["outcome"] == "denied", call
    assert call["error_code"] == code, call
    assert call["status"] == status, call
    assert call["input_tokens"] == 0 and call["output_tokens"] == 0, call
    for name, value in expected.items():
        assert call[name] == value, (name, call)
    return call


def wait_for_calls(gateway, request_ids, timeout: float = 15) -> dict[str, dict]:
    wanted = set(request_ids)
    deadline = time.monotonic() + timeout
    while True:
        found = gateway.ended_calls(wanted)
        if len(found) == len(wanted):
            return found
        assert time.monotonic() < deadline, f"{len(wanted) - len(found)} of {len(wanted)} calls not in the call log"
        time.sleep(0.1)


def raw_post(gateway, path: str, body: bytes, key: str, headers: dict | None = None):
    """(status, headers, JSON body) of one request with exactly these body bytes."""
    all_headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    all_headers.update(headers or {})
    status, response_headers, data = gateway.http("POST", path, body, all_headers)
    return status, response_headers, json.loads(data)


# MARK: budgets under concurrency


def fire(gateway, keys: list[str], count: int, delay: float, tag: str):
    """Sends `count` copies of PROBE_BODY at once (one connection each, released by a barrier), the
    keys taken in turn, each tagged with an `x-e2e-probe` header the double records; returns the
    threads, and per call (status, headers, body, sent, answered) in monotonic time once joined."""
    host, port = "127.0.0.1", gateway.port
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def worker(index: int) -> None:
        try:
            connection = http.client.HTTPConnection(host, port, timeout=60)
            connection.connect()
            barrier.wait(30)
            sent = time.monotonic()
            connection.request(
                "POST",
                "/v1/chat/completions",
                body=PROBE_BODY,
                headers={
                    "Authorization": f"Bearer {keys[index % len(keys)]}",
                    "Content-Type": "application/json",
                    "x-double-delay": str(delay),
                    "x-e2e-probe": tag,
                },
            )
            response = connection.getresponse()
            data = response.read()
            results[index] = (response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(data), sent, time.monotonic())
            connection.close()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results, errors


def collect(threads, results, errors):
    for thread in threads:
        thread.join(60)
    assert not errors, errors[:5]
    assert all(r is not None for r in results)
    return results


def upstream_probes(upstream, tag: str) -> int:
    return sum(1 for r in upstream.requests if r["path"] == "/v1/chat/completions" and r.header("x-e2e-probe") == tag)


def check_overlap(results, delay: float) -> None:
    """The test's premise: every refusal was answered before any admitted call could have finished,
    so every admission decision was taken with all admitted calls still holding their reservations."""
    first_sent = min(r[3] for r in results)
    last_refusal = max((r[4] for r in results if r[0] != 200), default=first_sent)
    assert last_refusal - first_sent < delay * 0.8, (
        f"the refusals took {last_refusal - first_sent:.2f}s, too close to the {delay}s upstream delay for the"
        " calls to be known to overlap (machine too slow?)"
    )


def assert_budget_refusals(refused, scope_text: str, limit_nanos: int, resets_at: str) -> None:
    for status, headers, body, _, _ in refused:
        assert status == 429, (status, body)
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
        assert body["error"]["code"] == "budget_exceeded", body
        assert body["error"]["type"] == "rate_limit_error", body
        message = body["error"]["message"]
        assert f"monthly budget of {scope_text} is {money_text(limit_nanos)}" in message, message
        assert f"it resets at {resets_at}" in message, message
        assert headers.get("x-perimeter-request-id", "").startswith("req_")


def test_key_budget_holds_under_200_concurrent_calls(busy_gw, upstream):
    key = make_key(busy_gw, "--budget", usd(PROBE_BUDGET_NANOS), "--period", "month")
    assert nanos(key["limits"]["budget"]["usd"]) == PROBE_BUDGET_NANOS
    assert key["limits"]["budget"]["period"] == "month"
    period_start, resets_at = month_bounds(dt.datetime.now(dt.timezone.utc))
    assert key["budget"]["resets_at"] == resets_at and key["budget"]["period_start"] == period_start

    tag = secrets.token_hex(8)
    started = time.monotonic()
    threads, results, errors = fire(busy_gw, [key["key"]], CONCURRENT_CALLS, UPSTREAM_DELAY, tag)
    # While the admitted calls are held upstream, the budget shows their reservations, nothing spent.
    while upstream_probes(upstream, tag) < FITTING_CALLS and time.monotonic() - started < UPSTREAM_DELAY * 0.5:
        time.sleep(0.02)
    all_upstream = upstream_probes(upstream, tag) >= FITTING_CALLS
    in_flight = key_view(busy_gw, key["id"])["budget"]
    # No admitted call can have settled before `started + UPSTREAM_DELAY`.
    in_flight_valid = all_upstream and time.monotonic() - started < UPSTREAM_DELAY
    results = collect(threads, results, errors)
    check_overlap(results, UPSTREAM_DELAY)

    ok = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] != 200]
    assert len(ok) == FITTING_CALLS, sorted((r[0], r[2].get("error", {}).get("code")) for r in results)[:3]
    assert len(refused) == CONCURRENT_CALLS - FITTING_CALLS
    assert upstream_probes(upstream, tag) == FITTING_CALLS
    for status, headers, body, _, _ in ok:
        assert body["usage"]["prompt_tokens"] == up.CHAT_PROMPT_TOKENS
    assert_budget_refusals(refused, f"key {key['id']}", PROBE_BUDGET_NANOS, resets_at)

    assert in_flight_valid, "the ten admitted calls were not seen in flight upstream in time"
    assert nanos(in_flight["reserved_usd"]) == FITTING_CALLS * PROBE_RESERVATION_NANOS, in_flight
    assert nanos(in_flight["spent_usd"]) == 0, in_flight
    assert nanos(in_flight["remaining_usd"]) == PROBE_BUDGET_NANOS - FITTING_CALLS * PROBE_RESERVATION_NANOS

    # Settled: the actual cost of ten calls, never more than the budget.
    ids = [r[1]["x-perimeter-request-id"] for r in results]
    calls = wait_for_calls(busy_gw, ids)
    budget = key_view(busy_gw, key["id"])["budget"]
    assert nanos(budget["spent_usd"]) == FITTING_CALLS * CHAT_COST_NANOS <= PROBE_BUDGET_NANOS, budget
    assert nanos(budget["reserved_usd"]) == 0, budget
    assert nanos(budget["remaining_usd"]) == PROBE_BUDGET_NANOS - FITTING_CALLS * CHAT_COST_NANOS
    assert nanos(budget["limit_usd"]) == PROBE_BUDGET_NANOS

    outcomes = sorted((c["outcome"], c["error_code"], c["status"]) for c in calls.values())
    assert outcomes.count(("ok", None, 200)) == FITTING_CALLS
    assert outcomes.count(("denied", "budget_exceeded", 429)) == CONCURRENT_CALLS - FITTING_CALLS
    assert sum(nanos(c["cost_usd"]) for c in calls.values() if c["outcome"] == "ok") == FITTING_CALLS * CHAT_COST_NANOS

    spend = {row["group"]: row for row in busy_gw.cli_json("spend", "--by", "key")["data"]}
    assert nanos(spend[key["id"]]["cost_usd"]) == FITTING_CALLS * CHAT_COST_NANOS
    assert spend[key["id"]]["calls"] == CONCURRENT_CALLS
    assert spend[key["id"]]["output_tokens"] == FITTING_CALLS * up.CHAT_COMPLETION_TOKENS


def test_environment_budget_shared_by_three_keys_under_concurrency(busy_gw, upstream):
    keys = [make_key(busy_gw, env="shared") for _ in range(3)]
    for key in keys:
        assert key["budget"] is None
        assert nanos(key["environment_budget"]["limit_usd"]) == PROBE_BUDGET_NANOS
    _, resets_at = month_bounds(dt.datetime.now(dt.timezone.utc))

    tag = secrets.token_hex(8)
    threads, results, errors = fire(busy_gw, [k["key"] for k in keys], CONCURRENT_CALLS, UPSTREAM_DELAY, tag)
    results = collect(threads, results, errors)
    check_overlap(results, UPSTREAM_DELAY)
    ok = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] != 200]
    assert len(ok) == FITTING_CALLS, sorted((r[0], r[2].get("error", {}).get("code")) for r in results)[:3]
    assert upstream_probes(upstream, tag) == FITTING_CALLS
    assert_budget_refusals(refused, "environment shared", PROBE_BUDGET_NANOS, resets_at)

    ids = [r[1]["x-perimeter-request-id"] for r in results]
    calls = wait_for_calls(busy_gw, ids)
    assert sum(1 for c in calls.values() if c["outcome"] == "ok") == FITTING_CALLS
    denied = [c for c in calls.values() if c["outcome"] == "denied"]
    assert len(denied) == CONCURRENT_CALLS - FITTING_CALLS
    assert {(c["error_code"], c["status"], c["env"]) for c in denied} == {("budget_exceeded", 429, "shared")}
    # Every key was refused some calls: the budget is the environment's, not any one key's.
    assert {c["key_id"] for c in denied} == {k["id"] for k in keys}

    for key in keys:
        shared = key_view(busy_gw, key["id"])["environment_budget"]
        assert nanos(shared["spent_usd"]) == FITTING_CALLS * CHAT_COST_NANOS <= PROBE_BUDGET_NANOS, shared
        assert nanos(shared["reserved_usd"]) == 0
        assert shared["resets_at"] == resets_at
    spend = {row["group"]: row for row in busy_gw.cli_json("spend", "--by", "env")["data"]}
    assert nanos(spend["shared"]["cost_usd"]) == FITTING_CALLS * CHAT_COST_NANOS
    assert spend["shared"]["calls"] == CONCURRENT_CALLS


# MARK: worst-case reservations, exactly


@pytest.mark.parametrize(
    "limit_field, output_tokens",
    [("max_tokens", 100), ("max_completion_tokens", 250), (None, GPT_4O_CEILING)],
    ids=["max_tokens", "max_completion_tokens", "model-ceiling"],
)
def test_chat_reservation_is_body_bytes_plus_output_limit(gw, upstream, limit_field, output_tokens):
    marker = secrets.token_hex(8)
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"reserve {marker}"}]}
    if limit_field:
        request[limit_field] = output_tokens
    body = json.dumps(request).encode()
    worst_case = len(body) * GPT_4O_MINI_IN_NANOS + output_tokens * GPT_4O_MINI_OUT_NANOS

    # One nanodollar short of the worst case: refused before anything goes upstream.
    short = make_key(gw, "--budget", usd(worst_case - 1))
    status, headers, error = raw_post(gw, "/v1/chat/completions", body, short["key"])
    assert status == 429 and error["error"]["code"] == "budget_exceeded", error
    assert money_text(worst_case - 1) in error["error"]["message"]
    assert upstream.find(marker) == []
    assert_denied(gw, headers["x-perimeter-request-id"], "budget_exceeded", 429, key_id=short["id"])
    assert nanos(key_view(gw, short["id"])["budget"]["reserved_usd"]) == 0

    # Exactly the worst case: admitted, and settled at the actual cost.
    exact = make_key(gw, "--budget", usd(worst_case))
    status, headers, answer = raw_post(gw, "/v1/chat/completions", body, exact["key"])
    assert status == 200, answer
    assert len(upstream.find(marker)) == 1
    call = gw.wait_for_call(headers["x-perimeter-request-id"])
    assert nanos(call["cost_usd"]) == CHAT_COST_NANOS
    budget = key_view(gw, exact["id"])["budget"]
    assert nanos(budget["spent_usd"]) == CHAT_COST_NANOS and nanos(budget["reserved_usd"]) == 0
    # The same call again no longer fits: what was spent plus a new worst case exceeds the budget.
    status, headers, error = raw_post(gw, "/v1/chat/completions", body, exact["key"])
    assert status == 429 and error["error"]["code"] == "budget_exceeded", error
    assert f"and {money_text(CHAT_COST_NANOS)} is spent or reserved" in error["error"]["message"]
    assert len(upstream.find(marker)) == 1


def test_messages_reservation_uses_the_model_ceiling(gw, upstream):
    """Without max_tokens, claude-sonnet-4-5's 64000-token ceiling is reserved (the Anthropic error shape)."""
    marker = secrets.token_hex(8)
    body = json.dumps({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": f"ceiling {marker}"}]}).encode()
    worst_case = len(body) * CLAUDE_IN_NANOS + CLAUDE_SONNET_4_5_CEILING * CLAUDE_OUT_NANOS

    short = make_key(gw, "--budget", usd(worst_case - 1))
    status, headers, error = raw_post(gw, "/v1/messages", body, short["key"], {"anthropic-version": "2023-06-01"})
    assert status == 429, error
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error", error
    assert f"budget of key {short['id']} is {money_text(worst_case - 1)}" in error["error"]["message"]
    assert upstream.find(marker) == []
    assert_denied(gw, headers["x-perimeter-request-id"], "budget_exceeded", 429)

    exact = make_key(gw, "--budget", usd(worst_case))
    status, headers, answer = raw_post(gw, "/v1/messages", body, exact["key"], {"anthropic-version": "2023-06-01"})
    assert status == 200, answer
    call = gw.wait_for_call(headers["x-perimeter-request-id"])
    assert nanos(call["cost_usd"]) == MESSAGES_COST_NANOS
    assert nanos(key_view(gw, exact["id"])["budget"]["spent_usd"]) == MESSAGES_COST_NANOS


def test_anthropic_sdk_budget_exceeded_is_a_rate_limit_error(gw, upstream, marker):
    key = make_key(gw, "--budget", "0.001", "--period", "total")
    client = anthropic_client(gw, key["key"])
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=64000, messages=[{"role": "user", "content": marker}])
    message = anthropic_error(caught.value, 429, "rate_limit_error")
    assert f"the total budget of key {key['id']} is $0.001000" in message, message
    assert "does not reset" in message
    assert upstream.find(marker) == []
    assert_denied(gw, request_id_of(caught.value), "budget_exceeded", 429, operation="messages")


def test_budget_periods_and_resets(gw):
    now = dt.datetime.now(dt.timezone.utc)
    daily = key_view(gw, make_key(gw, "--budget", "1", "--period", "day")["id"])["budget"]
    tomorrow = dt.datetime(now.year, now.month, now.day, tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
    assert daily["period"] == "day"
    assert daily["resets_at"] == tomorrow.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert parse_time(daily["period_start"]) == tomorrow - dt.timedelta(days=1)
    weekly = key_view(gw, make_key(gw, "--budget", "1", "--period", "week")["id"])["budget"]
    assert parse_time(weekly["resets_at"]) - parse_time(weekly["period_start"]) == dt.timedelta(days=7)
    assert parse_time(weekly["period_start"]) <= now < parse_time(weekly["resets_at"])

    total = make_key(gw, "--budget", "1", "--period", "total")
    fields = show_fields(gw, total["id"])
    assert fields["budget"] == "$1.0000 per lifetime" and fields["resets"] == "never"
    # A total budget never resets: `resets_at` is null, present like every other field of the shape
    # (and like the admin API's other nullable fields, `revoked_at`, `last_used_at`, `budget`).
    budget = key_view(gw, total["id"])["budget"]
    assert "resets_at" in budget and budget["resets_at"] is None, budget


def test_reservation_released_when_upstream_times_out(gw, upstream, marker):
    key = make_key(gw, "--budget", "1")
    client = openai_client(gw, key["key"])
    with pytest.raises(openai.APIStatusError) as caught:
        chat(client, marker, max_tokens=10, extra_headers={"x-double-delay": "3"})
    assert caught.value.status_code == 504, caught.value.response.text
    assert caught.value.code == "upstream_timeout"
    call = gw.wait_for_call(request_id_of(caught.value))
    assert call["outcome"] == "upstream_error" and call["error_code"] == "upstream_timeout"
    budget = key_view(gw, key["id"])["budget"]
    assert nanos(budget["reserved_usd"]) == 0 and nanos(budget["spent_usd"]) == 0, budget
    assert nanos(budget["remaining_usd"]) == 10**9


# MARK: settlement of streamed calls


def test_streamed_chat_without_include_usage_counts_exactly(gw, upstream, marker):
    key = make_key(gw, "--budget", "1")
    client = openai_client(gw, key["key"])
    raw = chat(client, marker, stream=True)
    request_id = raw.headers["x-perimeter-request-id"]
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == up.answer_text(f"hello {marker}")
    # The client did not ask for usage; the gateway asked upstream for it and kept it to itself.
    assert all(c.choices for c in chunks)
    assert all(getattr(c, "usage", None) is None for c in chunks)
    assert upstream.only(marker)["body"]["stream_options"] == {"include_usage": True}

    call = gw.wait_for_call(request_id)
    assert call["outcome"] == "ok" and call["stream"] is True
    assert {k: call[k] for k in CHAT_USAGE} == CHAT_USAGE
    assert nanos(call["cost_usd"]) == CHAT_COST_NANOS == 5625
    budget = key_view(gw, key["id"])["budget"]
    assert nanos(budget["spent_usd"]) == nanos(call["cost_usd"])
    assert nanos(budget["reserved_usd"]) == 0
    assert nanos(budget["remaining_usd"]) == 10**9 - CHAT_COST_NANOS


def test_streamed_messages_settle_at_normalised_usage(gw, upstream, marker):
    key = make_key(gw, "--budget", "1")
    client = anthropic_client(gw, key["key"])
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=256, messages=[{"role": "user", "content": f"stream {marker}"}]
    ) as stream:
        request_id = stream.response.headers["x-perimeter-request-id"]
        assert "".join(stream.text_stream) == up.answer_text(f"stream {marker}")
    call = gw.wait_for_call(request_id)
    assert call["outcome"] == "ok" and call["stream"] is True
    assert {k: call[k] for k in MESSAGES_USAGE} == MESSAGES_USAGE
    # (13*3 + 5*0.30 + 2*3.75 + 9*15) / 1e6 = $0.000183
    assert nanos(call["cost_usd"]) == MESSAGES_COST_NANOS == 183000
    budget = key_view(gw, key["id"])["budget"]
    assert nanos(budget["spent_usd"]) == MESSAGES_COST_NANOS
    assert nanos(budget["reserved_usd"]) == 0


# MARK: rate limits


def test_rpm(gw, upstream, marker):
    key = make_key(gw, "--rpm", "2")
    assert key["limits"]["rpm"] == 2
    client = openai_client(gw, key["key"])
    first = chat(client, marker)
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"] == "30s"
    assert "x-ratelimit-limit-tokens" not in first.headers
    second = chat(client, marker)
    assert second.headers["x-ratelimit-limit-requests"] == "2"
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    assert re.fullmatch(r"\d+s|\d+m\d+s", second.headers["x-ratelimit-reset-requests"]), second.headers["x-ratelimit-reset-requests"]
    assert first.parse().choices[0].message.content == up.answer_text(f"hello {marker}")

    with pytest.raises(openai.RateLimitError) as caught:
        chat(client, marker)
    message = openai_error(caught.value, 429, "rate_limited", "rate_limit_error")
    assert "requests per minute" in message, message
    headers = caught.value.response.headers
    # Back to one request from about 0 at 2 per minute: 30 seconds, less the time the calls took.
    assert 15 <= int(headers["retry-after"]) <= 30, headers["retry-after"]
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert len(upstream.find(marker)) == 2
    assert_denied(gw, request_id_of(caught.value), "rate_limited", 429, key_id=key["id"])


def test_rpm_on_messages(gw, upstream, marker):
    key = make_key(gw, "--rpm", "1")
    client = anthropic_client(gw, key["key"])
    raw = client.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": marker}])
    assert raw.headers["x-ratelimit-limit-requests"] == "1"
    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": marker}])
    anthropic_error(caught.value, 429, "rate_limit_error")
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    assert len(upstream.find(marker)) == 1
    assert_denied(gw, request_id_of(caught.value), "rate_limited", 429, operation="messages")


def test_tpm_is_charged_after_the_call(gw, upstream, marker):
    key = make_key(gw, "--tpm", "20")
    client = openai_client(gw, key["key"])
    # 20 tokens: the first call passes and uses 18 (11 in + 7 out).
    first = chat(client, marker)
    assert first.headers["x-ratelimit-limit-tokens"] == "20"
    assert first.headers["x-ratelimit-remaining-tokens"] == "20"
    assert "x-ratelimit-limit-requests" not in first.headers
    gw.wait_for_call(first.headers["x-perimeter-request-id"])
    # 2 left: at least one token, so the second call passes, and drives the bucket to about -16.
    second = chat(client, marker)
    assert second.headers["x-ratelimit-remaining-tokens"] == "2"
    gw.wait_for_call(second.headers["x-perimeter-request-id"])
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client, marker)
    message = openai_error(caught.value, 429, "rate_limited", "rate_limit_error")
    assert "tokens per minute" in message, message
    headers = caught.value.response.headers
    # Back to one token from about -16 at 20 per minute: about 51 seconds.
    assert 35 <= int(headers["retry-after"]) <= 51, headers["retry-after"]
    assert headers["x-ratelimit-limit-tokens"] == "20"
    assert headers["x-ratelimit-remaining-tokens"] == "0"
    assert len(upstream.find(marker)) == 2
    assert_denied(gw, request_id_of(caught.value), "rate_limited", 429)


# MARK: client addresses


def test_ip_allowlist_v4(gw, upstream, marker):
    elsewhere = make_key(gw, "--allow-ip", "10.0.0.0/8")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        chat(openai_client(gw, elsewhere["key"]), marker)
    message = openai_error(caught.value, 403, "ip_not_allowed", "permission_error")
    assert "address" in message
    assert upstream.find(marker) == []
    assert_denied(gw, request_id_of(caught.value), "ip_not_allowed", 403, client_ip="127.0.0.1")

    here = make_key(gw, "--allow-ip", "127.0.0.1", "--allow-ip", "10.0.0.0/8")
    raw = chat(openai_client(gw, here["key"]), marker)
    assert raw.parse().choices[0].message.content == up.answer_text(f"hello {marker}")
    call = gw.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["outcome"] == "ok" and call["client_ip"] == "127.0.0.1"


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_ip_allowlist_v6(gateway_factory_session, upstream, marker):
    if not ipv6_loopback_available():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    gw6 = gateway_factory_session("limits-v6", listen="[::1]:0")
    assert gw6.url.startswith("http://[::1]:")
    allowed = make_key(gw6, "--allow-ip", "::1/128")
    raw = chat(openai_client(gw6, allowed["key"]), marker)
    assert raw.parse().choices[0].message.content == up.answer_text(f"hello {marker}")
    assert gw6.wait_for_call(raw.headers["x-perimeter-request-id"])["client_ip"] == "::1"

    other = make_key(gw6, "--allow-ip", "2001:db8::/32")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        chat(openai_client(gw6, other["key"]), marker + "-denied")
    openai_error(caught.value, 403, "ip_not_allowed", "permission_error")
    assert upstream.find(marker + "-denied") == []
    assert_denied(gw6, request_id_of(caught.value), "ip_not_allowed", 403, client_ip="::1")
    # An IPv4 allowlist does not match the IPv6 loopback.
    v4 = make_key(gw6, "--allow-ip", "127.0.0.1/32")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        chat(openai_client(gw6, v4["key"]), marker + "-v4")
    assert_denied(gw6, request_id_of(caught.value), "ip_not_allowed", 403, client_ip="::1")


@pytest.mark.parametrize(
    "forwarded, allowed, client_ip",
    [
        ("203.0.113.9", True, "203.0.113.9"),
        ("198.51.100.1", False, "198.51.100.1"),
        # A client cannot spoof its way in: the rightmost address the trusted proxy did not add is used.
        ("203.0.113.9, 198.51.100.7", False, "198.51.100.7"),
        ("198.51.100.7, 203.0.113.9", True, "203.0.113.9"),
        # Trusted hops are skipped, right to left.
        ("203.0.113.9, 127.0.0.1", True, "203.0.113.9"),
    ],
    ids=["allowed", "denied", "spoofed-left", "spoofed-right", "through-trusted-hop"],
)
def test_trusted_proxy_forwarded_for(proxied_gw, upstream, forwarded, allowed, client_ip):
    key = make_key(proxied_gw, "--allow-ip", "203.0.113.0/24")
    client = openai_client(proxied_gw, key["key"])
    marker = secrets.token_hex(8)
    if allowed:
        raw = chat(client, marker, extra_headers={"X-Forwarded-For": forwarded})
        assert raw.http_response.status_code == 200
        call = proxied_gw.wait_for_call(raw.headers["x-perimeter-request-id"])
        assert call["outcome"] == "ok" and call["client_ip"] == client_ip
        # The gateway does not pass the client's forwarding chain to the provider.
        assert upstream.only(marker).header("x-forwarded-for") is None
    else:
        with pytest.raises(openai.PermissionDeniedError) as caught:
            chat(client, marker, extra_headers={"X-Forwarded-For": forwarded})
        openai_error(caught.value, 403, "ip_not_allowed", "permission_error")
        assert upstream.find(marker) == []
        assert_denied(proxied_gw, request_id_of(caught.value), "ip_not_allowed", 403, client_ip=client_ip)


def test_forwarded_for_ignored_without_trusted_proxies(gw, upstream, marker):
    key = make_key(gw, "--allow-ip", "203.0.113.0/24")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        chat(openai_client(gw, key["key"]), marker, extra_headers={"X-Forwarded-For": "203.0.113.9"})
    openai_error(caught.value, 403, "ip_not_allowed", "permission_error")
    assert upstream.find(marker) == []
    assert_denied(gw, request_id_of(caught.value), "ip_not_allowed", 403, client_ip="127.0.0.1")


# MARK: models, operations, tools


def test_model_allowlist(gw, upstream, marker):
    key = make_key(gw, "--models", "gpt-4o-mini", "--models", "text-embedding-*")
    assert key["limits"]["models"] == ["gpt-4o-mini", "text-embedding-*"]
    client = openai_client(gw, key["key"])
    assert sorted(m.id for m in client.models.list()) == ["gpt-4o-mini", "text-embedding-3-small"]
    assert chat(client, marker).http_response.status_code == 200
    assert client.embeddings.create(model="text-embedding-3-small", input="x").usage.prompt_tokens == up.EMBEDDING_TOKENS

    with pytest.raises(openai.PermissionDeniedError) as caught:
        chat(client, marker + "-4o", model="gpt-4o")
    message = openai_error(caught.value, 403, "model_not_allowed", "permission_error")
    assert "'gpt-4o'" in message, message
    assert upstream.find(marker + "-4o") == []
    assert_denied(gw, request_id_of(caught.value), "model_not_allowed", 403, model="gpt-4o")

    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.models.retrieve("gpt-4o")
    openai_error(caught.value, 403, "model_not_allowed", "permission_error")
    assert_denied(gw, request_id_of(caught.value), "model_not_allowed", 403, operation="models")

    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        anthropic_client(gw, key["key"]).messages.create(
            model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": marker + "-claude"}]
        )
    assert "'claude-sonnet-4-5'" in anthropic_error(caught.value, 403, "permission_error")
    assert_denied(gw, request_id_of(caught.value), "model_not_allowed", 403, operation="messages")


def test_operation_allowlist(gw, upstream, marker):
    key = make_key(gw, "--operations", "chat")
    assert key["limits"]["operations"] == ["chat"]
    client = openai_client(gw, key["key"])
    assert chat(client, marker).http_response.status_code == 200
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.embeddings.create(model="text-embedding-3-small", input=f"embed {marker}")
    message = openai_error(caught.value, 403, "operation_not_allowed", "permission_error")
    assert "'embeddings'" in message, message
    assert upstream.find(f"embed {marker}") == []
    assert_denied(gw, request_id_of(caught.value), "operation_not_allowed", 403, operation="embeddings")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.models.list()
    openai_error(caught.value, 403, "operation_not_allowed", "permission_error")
    assert_denied(gw, request_id_of(caught.value), "operation_not_allowed", 403, operation="models")


WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
DELETE_TOOL = {"type": "function", "function": {"name": "delete_files", "parameters": {"type": "object", "properties": {}}}}


def anthropic_tool(name: str) -> dict:
    return {"name": name, "description": name, "input_schema": {"type": "object", "properties": {}}}


def test_tools_denied(gw, upstream, marker):
    key = make_key(gw, "--tools", "deny")
    assert key["limits"]["tools"] == "deny"
    client = openai_client(gw, key["key"])
    assert chat(client, marker).http_response.status_code == 200

    with pytest.raises(openai.PermissionDeniedError) as caught:
        chat(client, marker + "-tools", tools=[WEATHER_TOOL])
    message = openai_error(caught.value, 403, "tools_not_allowed", "permission_error")
    assert "'get_weather'" in message, message
    assert_denied(gw, request_id_of(caught.value), "tools_not_allowed", 403)

    # Legacy functions, and a tool choice on its own, count as declaring tools.
    status, headers, error = raw_post(
        gw, "/v1/chat/completions",
        json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": marker + "-fn"}],
                    "functions": [{"name": "legacy_fn", "parameters": {}}]}).encode(),
        key["key"],
    )
    assert status == 403 and error["error"]["code"] == "tools_not_allowed" and "'legacy_fn'" in error["error"]["message"], error
    assert_denied(gw, headers["x-perimeter-request-id"], "tools_not_allowed", 403)
    status, headers, error = raw_post(
        gw, "/v1/chat/completions",
        json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": marker + "-choice"}], "tool_choice": "auto"}).encode(),
        key["key"],
    )
    assert status == 403 and error["error"]["code"] == "tools_not_allowed", error
    assert_denied(gw, headers["x-perimeter-request-id"], "tools_not_allowed", 403)

    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        anthropic_client(gw, key["key"]).messages.create(
            model="claude-sonnet-4-5", max_tokens=16, tools=[anthropic_tool("get_weather")],
            messages=[{"role": "user", "content": marker + "-ant"}],
        )
    assert "'get_weather'" in anthropic_error(caught.value, 403, "permission_error")
    assert_denied(gw, request_id_of(caught.value), "tools_not_allowed", 403, operation="messages")
    for suffix in ("-tools", "-fn", "-choice", "-ant"):
        assert upstream.find(marker + suffix) == []


def test_tools_allowlist(gw, upstream, marker):
    key = make_key(gw, "--tools", "get_weather")
    assert key["limits"]["tools"] == ["get_weather"]
    client = openai_client(gw, key["key"])
    assert chat(client, marker + "-ok", tools=[WEATHER_TOOL]).http_response.status_code == 200
    assert upstream.only(marker + "-ok")["body"]["tools"] == [WEATHER_TOOL]

    for tools in ([DELETE_TOOL], [WEATHER_TOOL, DELETE_TOOL]):
        with pytest.raises(openai.PermissionDeniedError) as caught:
            chat(client, marker + "-bad", tools=tools)
        message = openai_error(caught.value, 403, "tools_not_allowed", "permission_error")
        assert "'delete_files'" in message and "get_weather" not in message, message
        assert_denied(gw, request_id_of(caught.value), "tools_not_allowed", 403)

    ant = anthropic_client(gw, key["key"])
    ok = ant.messages.create(model="claude-sonnet-4-5", max_tokens=16, tools=[anthropic_tool("get_weather")],
                             messages=[{"role": "user", "content": marker + "-ant-ok"}])
    assert ok.usage.output_tokens == up.MESSAGES_OUTPUT_TOKENS
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        ant.messages.create(model="claude-sonnet-4-5", max_tokens=16, tools=[anthropic_tool("delete_files")],
                            messages=[{"role": "user", "content": marker + "-bad"}])
    assert "'delete_files'" in anthropic_error(caught.value, 403, "permission_error")
    assert upstream.find(marker + "-bad") == []


# MARK: expiry and prices


def test_expiry(gw, upstream, marker):
    before = dt.datetime.now(dt.timezone.utc)
    key = make_key(gw, "--expires-in", "3s")
    expires_at = parse_time(key["limits"]["expires_at"])
    now = dt.datetime.now(dt.timezone.utc)
    assert before + dt.timedelta(seconds=2.99) <= expires_at <= now + dt.timedelta(seconds=3.01), (before, expires_at, now)
    assert key["status"] == "active"
    client = openai_client(gw, key["key"])
    assert chat(client, marker).http_response.status_code == 200

    time.sleep(max(0.0, (expires_at - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 0.2)
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(client, marker + "-late")
    message = openai_error(caught.value, 401, "key_expired", "invalid_request_error")
    assert key["limits"]["expires_at"] in message, message
    assert upstream.find(marker + "-late") == []
    assert_denied(gw, request_id_of(caught.value), "key_expired", 401, key_id=key["id"])
    with pytest.raises(anthropic.AuthenticationError) as caught:
        anthropic_client(gw, key["key"]).messages.create(
            model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": marker + "-late"}]
        )
    anthropic_error(caught.value, 401, "authentication_error")
    assert_denied(gw, request_id_of(caught.value), "key_expired", 401, operation="messages")

    assert gw.cli_json("keys", "show", key["id"])["status"] == "expired"
    fields = show_fields(gw, key["id"])
    assert fields["status"] == "expired"
    assert fields["expires"] != "never"


def test_price_unknown(gw, upstream, marker):
    budgeted = make_key(gw, "--budget", "5")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        chat(openai_client(gw, budgeted["key"]), marker, model="my-custom-model", max_tokens=10)
    message = openai_error(caught.value, 403, "price_unknown", "permission_error")
    assert "'my-custom-model'" in message, message
    assert upstream.find(marker) == []
    assert_denied(gw, request_id_of(caught.value), "price_unknown", 403, model="my-custom-model")
    assert nanos(key_view(gw, budgeted["id"])["budget"]["reserved_usd"]) == 0

    free = make_key(gw)
    raw = chat(openai_client(gw, free["key"]), marker, model="my-custom-model")
    assert raw.parse().choices[0].message.content == up.answer_text(f"hello {marker}")
    call = gw.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["outcome"] == "ok" and call["model"] == "my-custom-model"
    assert call["input_tokens"] == up.CHAT_PROMPT_TOKENS
    assert call["cost_usd"] is None


# MARK: changing limits


def show_fields(gateway, key_id: str) -> dict[str, str]:
    text = gateway.cli("keys", "show", key_id).stdout
    lines = text.rstrip("\n").split("\n")
    assert re.split(r" {2,}", lines[0].strip()) == ["FIELD", "VALUE"], text
    fields = {}
    for line in lines[1:]:
        name, value = re.split(r" {2,}", line.strip(), maxsplit=1)
        fields[name] = value
    return fields


def test_update_rate_limit_applies_to_the_next_request(gw, upstream, marker):
    key = make_key(gw)
    client = openai_client(gw, key["key"])
    assert "x-ratelimit-limit-requests" not in chat(client, marker).headers

    updated = gw.cli_json("keys", "update", key["id"], "--rpm", "1")
    assert updated["limits"] == {"rpm": 1}
    raw = chat(client, marker)
    assert raw.headers["x-ratelimit-limit-requests"] == "1"
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client, marker)
    assert_denied(gw, request_id_of(caught.value), "rate_limited", 429)

    assert gw.cli_json("keys", "update", key["id"], "--no-rpm")["limits"] == {}
    raw = chat(client, marker)
    assert raw.http_response.status_code == 200
    assert "x-ratelimit-limit-requests" not in raw.headers
    assert len(upstream.find(marker)) == 3


BAD_LIMIT_FLAGS = [
    (["--allow-ip", "10.0.0.0/33", "--rpm", "5"], "--allow-ip"),
    (["--allow-ip", "not-an-ip"], "--allow-ip"),
    (["--budget", "5", "--period", "fortnight"], "--period"),
    (["--rpm=0"], "--rpm"),
    (["--tpm=-5"], "--tpm"),
    (["--budget=-1"], "--budget"),
    (["--budget", "1e12"], "--budget"),
    (["--operations", "chat,teleport"], "--operations"),
    (["--expires-in", "soon"], "--expires-in"),
    (["--expires-at", "tomorrow"], "--expires-at"),
]


def test_bad_limit_flags_change_nothing(gw):
    key = make_key(gw, "--rpm", "7", "--budget", "2", "--allow-ip", "127.0.0.1")
    before = gw.cli_json("keys", "show", key["id"])
    keys_before = len(gw.cli_json("keys", "list")["data"])
    for flags, named in BAD_LIMIT_FLAGS:
        for command in (["keys", "update", key["id"]], ["keys", "create", "--name", "never-made", "--env", "limits"]):
            result = gw.cli(*command, *flags, check=False)
            assert result.returncode != 0, (command, flags, result.stdout)
            error_lines = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error:")]
            assert len(error_lines) == 1, (command, flags, result.stdout, result.stderr)
            assert named in error_lines[0], (command, flags, error_lines[0])
    # Nothing half-applied, nothing created.
    assert gw.cli_json("keys", "show", key["id"]) == before
    assert len(gw.cli_json("keys", "list")["data"]) == keys_before


def test_admin_patch_validates_all_or_nothing(gw):
    key = make_key(gw, "--rpm", "5", "--tpm", "1000")
    before = key_view(gw, key["id"])

    status, body = admin(gw, "PATCH", f"/keys/{key['id']}", {"limits": {"rpm": 0}})
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request" and "limits.rpm" in body["error"]["message"], body
    status, body = admin(gw, "PATCH", f"/keys/{key['id']}", {"limits": {"tpm": 99, "allowed_ips": ["10.0.0.0/33"]}})
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request" and "allowed_ips" in body["error"]["message"], body
    status, body = admin(gw, "PATCH", f"/keys/{key['id']}", {"limits": {"tpm": 99, "budget": {"usd": -1, "period": "month"}}})
    assert status == 400 and "limits.budget" in body["error"]["message"], body
    assert key_view(gw, key["id"]) == before

    # null clears, absent keeps.
    status, body = admin(gw, "PATCH", f"/keys/{key['id']}", {"limits": {"rpm": None, "models": ["gpt-4o-mini"]}})
    assert status == 200, body
    assert body["limits"] == {"tpm": 1000, "models": ["gpt-4o-mini"]}

    # A key with invalid limits is not created.
    count = len(gw.cli_json("keys", "list")["data"])
    status, body = admin(gw, "POST", "/keys", {"name": "bad", "env": "limits", "limits": {"rpm": 0}})
    assert status == 400 and "limits.rpm" in body["error"]["message"], body
    assert len(gw.cli_json("keys", "list")["data"]) == count


def test_keys_show_lists_limits_and_budget(gw, marker):
    key = make_key(
        gw, "--budget", "1", "--rpm", "60", "--tpm", "100000", "--allow-ip", "127.0.0.1/32", "--allow-ip", "::1/128",
        "--models", "gpt-4o*", "--operations", "chat,embeddings", "--tools", "get_weather,lookup",
        "--expires-at", "2099-01-02T03:04:05Z",
    )
    assert key["limits"] == {
        "budget": {"usd": 1, "period": "month"}, "rpm": 60, "tpm": 100000, "allowed_ips": ["127.0.0.1/32", "::1/128"],
        "models": ["gpt-4o*"], "operations": ["chat", "embeddings"], "tools": ["get_weather", "lookup"],
        "expires_at": "2099-01-02T03:04:05.000Z",
    }
    raw = chat(openai_client(gw, key["key"]), marker)
    gw.wait_for_call(raw.headers["x-perimeter-request-id"])
    shown = gw.cli_json("keys", "show", key["id"])
    period_start, resets_at = month_bounds(dt.datetime.now(dt.timezone.utc))
    assert shown["budget"] == {
        "limit_usd": 1, "period": "month", "spent_usd": shown["budget"]["spent_usd"], "reserved_usd": 0,
        "remaining_usd": shown["budget"]["remaining_usd"], "period_start": period_start, "resets_at": resets_at,
    }
    assert nanos(shown["budget"]["spent_usd"]) == CHAT_COST_NANOS
    assert nanos(shown["budget"]["remaining_usd"]) == 10**9 - CHAT_COST_NANOS

    fields = show_fields(gw, key["id"])
    assert fields["rpm"] == "60" and fields["tpm"] == "100000"
    assert fields["allowed ips"] == "127.0.0.1/32, ::1/128"
    assert fields["models"] == "gpt-4o*"
    assert fields["operations"] == "chat, embeddings"
    assert fields["tools"] == "get_weather, lookup"
    assert fields["expires"] == "2099-01-02 03:04:05Z"
    assert fields["budget"] == "$1.0000 per month"
    assert fields["spent"] == money_text(CHAT_COST_NANOS)
    assert fields["remaining"] == money_text(10**9 - CHAT_COST_NANOS)
    assert fields["resets"] == resets_at.replace("T", " ").replace(".000Z", "Z")

    plain = show_fields(gw, make_key(gw)["id"])
    assert (plain["rpm"], plain["tpm"], plain["allowed ips"], plain["models"], plain["operations"], plain["tools"], plain["expires"]) == (
        "unlimited", "unlimited", "any", "any", "any", "any", "never")
    assert "budget" not in plain and "spent" not in plain
