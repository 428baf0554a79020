"""A crash loses no completed call: after kill -9 under load, every call whose client received a whole
answer is in the call log after restart, and its spend counts against the key's budget."""

from __future__ import annotations

import json
import threading
import time

import upstream_double as up
from perimeter_harness import nanos, openai_client

CLIENTS = 16
LOAD_SECONDS = 2.0


def test_kill_9_under_load_loses_no_completed_call(gateway_factory, upstream, marker):
    # A long flush interval: only the group commit each answer waits for can make its record durable.
    gw = gateway_factory("crash", config={"flush_ms": 5000})
    key = gw.cli_json("keys", "create", "--name", "crash", "--env", "test", "--budget", "1000", "--period", "month")
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"crash {marker}"}]}).encode()
    headers = {"Authorization": f"Bearer {key['key']}", "Content-Type": "application/json"}
    completed: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                status, response_headers, data = gw.http("POST", "/v1/chat/completions", body, headers, timeout=10)
            except Exception:  # the gateway died under this call
                return
            if status != 200:
                return
            answer = json.loads(data)  # a whole answer, or this raises and the call does not count
            assert answer["usage"]["prompt_tokens"] == up.CHAT_PROMPT_TOKENS
            with lock:
                completed.append(response_headers["x-perimeter-request-id"])

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_SECONDS)
    gw.kill()
    gw.exit_code = -9
    stop.set()
    for thread in threads:
        thread.join(15)
    assert len(completed) > 100, f"only {len(completed)} calls completed before the crash"

    restarted = gateway_factory("crash-restart", config={"flush_ms": 5000}, database=gw.database)
    logged = {c["id"]: c for c in restarted.cli_json("calls", "--limit", "10000")["data"]}
    missing = [request_id for request_id in completed if request_id not in logged]
    assert not missing, f"{len(missing)} of {len(completed)} completed calls are not in the call log after kill -9"
    # Their spend is back in the budget too: recovered from the call log at start.
    view = restarted.cli_json("keys", "show", key["id"])
    spent = nanos(view["budget"]["spent_usd"])
    assert spent >= sum(nanos(logged[request_id]["cost_usd"]) for request_id in completed)


def test_kill_9_charges_calls_under_way_their_reserved_worst_case(gateway_factory, upstream, marker):
    """A budgeted call's worst case is reserved and committed as an in_flight row before it goes
    upstream; a crash while it streams leaves that row, and the restarted gateway charges it
    (outcome interrupted, usage_source reserved) instead of handing the budget back."""
    gw = gateway_factory("crash-inflight", config={"flush_ms": 5000})
    key = gw.cli_json("keys", "create", "--name", "inflight", "--env", "test", "--budget", "100", "--period", "month")
    client = openai_client(gw, key["key"])
    streams = []
    for index in range(4):
        raw = client.chat.completions.with_raw_response.create(
            model="slow-stream", max_tokens=500, stream=True,
            messages=[{"role": "user", "content": f"in flight {index} {marker} " + "w " * 20}],
        )
        stream = iter(raw.parse())
        next(stream)  # the call is under way: its first chunk arrived
        streams.append((raw.headers["x-perimeter-request-id"], raw))
    reserved = nanos(gw.cli_json("keys", "show", key["id"])["budget"]["reserved_usd"])
    assert reserved > 0
    gw.kill()
    gw.exit_code = -9
    for _, raw in streams:
        raw.http_response.close()

    restarted = gateway_factory("crash-inflight-restart", config={"flush_ms": 5000}, database=gw.database)
    logged = {c["id"]: c for c in restarted.cli_json("calls", "--limit", "100")["data"]}
    charged = 0
    for request_id, _ in streams:
        row = logged[request_id]
        assert (row["outcome"], row["usage_source"]) == ("interrupted", "reserved"), row
        assert row["output_tokens"] == 500 and nanos(row["cost_usd"]) > 0
        charged += nanos(row["cost_usd"])
    assert charged == reserved
    budget = restarted.cli_json("keys", "show", key["id"])["budget"]
    assert nanos(budget["spent_usd"]) == charged and nanos(budget["reserved_usd"]) == 0
