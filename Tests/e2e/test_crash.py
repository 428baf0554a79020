"""A crash loses no completed call: after kill -9 under load, every call whose client received a whole
answer is in the call log after restart, and its spend counts against the key's budget."""

from __future__ import annotations

import json
import threading
import time

import upstream_double as up
from perimeter_harness import nanos

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
