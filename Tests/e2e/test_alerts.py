"""Alerts end to end: a local webhook receiver checks each alert's HMAC signature and when it
arrived. Thresholds, canaries, new networks, spikes and bursts are caused with the official SDK, and
a receiver that is down for a while still gets every alert exactly once."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest

from perimeter_harness import openai_client
from secret_servers import free_port

SECRET = "whsec-" + secrets.token_hex(16)


class Receiver:
    """A webhook receiver on a fixed port; `start()` can come late (a receiver that was down)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[tuple[float, dict, str]] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                signature = self.headers.get("x-perimeter-signature", "")
                parts = dict(part.split("=", 1) for part in signature.split(",") if "=" in part)
                expected = hmac.new(SECRET.encode(), f"{parts.get('t', '')}.".encode() + body, hashlib.sha256).hexdigest()
                fresh = abs(time.time() - int(parts.get("t", "0"))) < 300
                with receiver.lock:
                    if hmac.compare_digest(expected, parts.get("v1", "")) and fresh:
                        receiver.received.append((time.monotonic(), json.loads(body), self.headers.get("x-perimeter-alert-id")))
                    else:
                        receiver.bad_signatures += 1
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def alerts(self, type_: str | None = None) -> list[dict]:
        with self.lock:
            return [body for _, body, _ in self.received if type_ is None or body["type"] == type_]

    def wait_for(self, type_: str, count: int = 1, timeout: float = 10) -> list[tuple[float, dict]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [(t, body) for t, body, _ in self.received if body["type"] == type_]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{count} {type_} alert(s) not received in {timeout}s; got {self.alerts()}")


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def alerts_yaml(url: str, rules: str = "") -> str:
    return f"""
alerts:
  channels:
    - {{ name: ops, kind: webhook, url: "{url}", secret: "env:ALERT_SECRET" }}
{rules}"""


def start(gateway_factory, name: str, url: str, rules: str = "", extra: str = ""):
    return gateway_factory(
        name, config={"extra_yaml": alerts_yaml(url, rules) + extra}, extra_env={"ALERT_SECRET": SECRET}
    )


def chat(gw, key: str, marker: str, max_tokens: int = 40, **headers):
    client = openai_client(gw, key)
    if headers:
        client = client.with_options(default_headers=headers)
    return client.chat.completions.create(
        model="gpt-4o-mini", max_tokens=max_tokens, messages=[{"role": "user", "content": marker}]
    )


def test_canary_use_is_denied_like_an_unknown_key_and_alerted_within_seconds(gateway_factory, receiver, marker):
    gw = start(gateway_factory, "canary", receiver.url)
    canary = gw.cli_json("keys", "create", "--canary", "--name", "old-script-bait")  # a prod key by default
    assert canary["env"] == "prod" and canary["key"].startswith("prm_prod_")
    assert canary["canary"] is True and canary["status"] == "canary"
    used_at = time.monotonic()
    with pytest.raises(openai.AuthenticationError) as refused:
        openai_client(gw, canary["key"]).with_options(default_headers={"User-Agent": "stolen-laptop/2.0"}).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": marker}]
        )
    assert refused.value.body["code"] == "invalid_api_key"  # the same answer as an unknown key
    ((arrived, alert),) = receiver.wait_for("canary_used", timeout=5)
    assert arrived - used_at < 5
    assert alert["severity"] == "critical" and alert["key_id"] == canary["id"] and alert["env"] == "prod"
    assert alert["details"]["client_ip"] == "127.0.0.1" and alert["details"]["user_agent"] == "stolen-laptop/2.0"
    assert set(alert) >= {"id", "type", "severity", "time", "key_id", "env", "message"}
    assert receiver.bad_signatures == 0
    history = gw.cli_json("alerts")["data"]
    assert history[0]["id"] == alert["id"] and history[0]["deliveries"][0]["status"] == "delivered"


def test_budget_thresholds_alert_once_per_period(gateway_factory, receiver, marker):
    gw = start(gateway_factory, "thresholds", receiver.url, rules="  thresholds: [0.5, 0.75]\n")
    # Each call costs $0.0000056 at the double's fixed usage: about 18 calls fill $0.0001.
    key = gw.cli_json("keys", "create", "--name", "metered", "--env", "dev", "--budget", "0.0001")
    calls = 0
    while True:
        try:
            chat(gw, key["key"], f"spend {calls} {marker}", max_tokens=8)
        except openai.RateLimitError:
            break
        calls += 1
        crossed_at = time.monotonic()
        assert calls < 60
    spent = gw.cli_json("keys", "show", key["id"])["budget"]["spent_usd"]
    # The worst-case reservation refuses the call that could overspend, a little before 100 %.
    assert spent >= 0.75 * 0.0001, spent
    found = receiver.wait_for("budget_threshold", count=2, timeout=5)
    thresholds = sorted(float(a["details"]["threshold"]) for _, a in found if a["key_id"] == key["id"])
    assert thresholds == [0.5, 0.75]
    assert found[-1][0] - crossed_at < 5
    time.sleep(1.5)
    assert len([a for a in receiver.alerts("budget_threshold") if a["key_id"] == key["id"]]) == 2  # once each


def test_every_alert_arrives_once_after_the_receiver_was_down(gateway_factory, marker):
    late = Receiver()  # not listening yet: deliveries are refused
    gw = start(gateway_factory, "outbox", late.url)
    canaries = [gw.cli_json("keys", "create", "--name", f"bait-{i}", "--env", "prod", "--canary") for i in range(3)]
    for canary in canaries:
        with pytest.raises(openai.AuthenticationError):
            chat(gw, canary["key"], marker)
    time.sleep(3)
    pending = gw.cli_json("alerts")["data"]
    assert len(pending) == 3 and all(a["deliveries"][0]["status"] == "pending" for a in pending)
    assert all(a["deliveries"][0]["attempts"] >= 1 for a in pending)
    late.start()
    try:
        late.wait_for("canary_used", count=3, timeout=20)
        time.sleep(3)
        ids = [a["id"] for a in late.alerts("canary_used")]
        assert len(ids) == 3 and len(set(ids)) == 3, ids
        assert {a["key_id"] for a in late.alerts()} == {c["id"] for c in canaries}
        assert late.bad_signatures == 0
    finally:
        late.stop()


def test_a_new_network_behind_a_trusted_proxy_is_alerted(gateway_factory, receiver, marker):
    gw = start(
        gateway_factory, "new-source", receiver.url, rules="  new_source: { learning: 1s }\n",
        extra="trusted_proxies: [\"127.0.0.1/32\"]\n",
    )
    key = gw.create_key("svc", "prod", owner="team-a")
    chat(gw, key["key"], f"home {marker}", **{"X-Forwarded-For": "10.1.1.1"})
    time.sleep(1.2)
    chat(gw, key["key"], f"same net {marker}", **{"X-Forwarded-For": "10.1.1.77"})
    chat(gw, key["key"], f"new net {marker}", **{"X-Forwarded-For": "203.0.113.9"})
    ((_, alert),) = receiver.wait_for("new_source", timeout=5)
    assert alert["key_id"] == key["id"] and alert["details"]["network"] == "203.0.113.0/24"
    assert alert["details"]["client_ip"] == "203.0.113.9"
    time.sleep(1)
    assert len(receiver.alerts("new_source")) == 1


def test_a_spike_in_steady_load_is_alerted(gateway_factory, receiver, marker):
    gw = start(
        gateway_factory, "spike", receiver.url,
        rules="  spike: { window: 2s, factor: 3, min_requests: 8, min_usd: 1000 }\n",
    )
    key = gw.create_key("steady", "prod", owner="team-a")
    # Steady: 2 calls per 2 s window for 4 windows.
    for i in range(8):
        chat(gw, key["key"], f"steady {i} {marker}")
        time.sleep(1)
    assert receiver.alerts("spend_spike") == []
    for i in range(20):
        chat(gw, key["key"], f"burst {i} {marker}")
    spike_done = time.monotonic()
    ((arrived, alert),) = receiver.wait_for("spend_spike", timeout=10)
    assert arrived - spike_done < 10
    assert alert["key_id"] == key["id"] and int(alert["details"]["requests"]) >= 8
    assert "baseline" in alert["message"]


def test_denial_and_unknown_key_bursts(gateway_factory, receiver, marker):
    gw = start(
        gateway_factory, "bursts", receiver.url,
        rules="  denial_burst: { count: 5, window: 30s }\n  invalid_key_burst: { count: 5, window: 30s }\n",
    )
    key = gw.cli_json("keys", "create", "--name", "narrow", "--env", "dev", "--models", "claude-*")
    for i in range(6):
        with pytest.raises(openai.PermissionDeniedError):
            chat(gw, key["key"], f"denied {i} {marker}")
    ((_, denial),) = receiver.wait_for("denial_burst", timeout=5)
    assert denial["key_id"] == key["id"] and denial["details"]["last_error"] == "model_not_allowed"

    for i in range(5):
        with pytest.raises(openai.AuthenticationError):
            chat(gw, f"sk-guess-{i}-{secrets.token_hex(8)}", marker)
    ((_, guess),) = receiver.wait_for("invalid_key_burst", timeout=5)
    assert guess["details"]["client_ip"] == "127.0.0.1"
    # While the burst lasts, unknown keys from that address are answered slowly.
    started = time.monotonic()
    with pytest.raises(openai.AuthenticationError):
        chat(gw, "sk-guess-more", marker)
    assert time.monotonic() - started >= 0.9
    # A real key from the same address is not slowed down.
    started = time.monotonic()
    with pytest.raises(openai.PermissionDeniedError):
        chat(gw, key["key"], marker)
    assert time.monotonic() - started < 0.9
    rules = gw.cli_json("alerts", "rules")
    assert {r["type"] for r in rules["rules"]} >= {"budget_threshold", "spend_spike", "canary_used", "denial_burst"}
    assert rules["channels"] == [{"name": "ops", "kind": "webhook", "min_severity": "info", "signed": True}]


def test_metrics_parse_as_prometheus_text_and_match_the_call_log(gateway_factory, receiver, marker):
    from prometheus_client.parser import text_string_to_metric_families

    gw = start(gateway_factory, "metrics", receiver.url, extra="environments: { dev: { budget: 5, period: month } }\n")
    key = gw.create_key("metered", "dev", owner="team-a")
    for i in range(4):
        chat(gw, key["key"], f"metrics {i} {marker}")
    with pytest.raises(openai.AuthenticationError):
        chat(gw, "sk-not-a-key", marker)
    canary = gw.cli_json("keys", "create", "--name", "bait", "--env", "dev", "--canary")
    with pytest.raises(openai.AuthenticationError):
        chat(gw, canary["key"], marker)
    receiver.wait_for("canary_used")
    calls = gw.calls()
    assert len(calls) == 6

    status, headers, body = gw.http("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}

    def total(name: str, **labels) -> float:
        return sum(
            s.value for s in families[name].samples
            if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items())
        )

    assert total("perimeter_requests") == len(calls)
    assert total("perimeter_requests", outcome="ok", model="gpt-4o-mini", env="dev") == 4
    assert total("perimeter_requests", outcome="denied") == 2
    assert total("perimeter_input_tokens") == sum(c["input_tokens"] for c in calls)
    assert total("perimeter_output_tokens") == sum(c["output_tokens"] for c in calls)
    assert abs(total("perimeter_cost_usd") - sum(c["cost_usd"] or 0 for c in calls)) < 1e-9
    assert total("perimeter_alerts_raised", type="canary_used") == 1
    spent = [s for s in families["perimeter_budget_spent_usd"].samples if s.labels["scope"] == "env:dev"]
    assert len(spent) == 1 and abs(spent[0].value - sum(c["cost_usd"] or 0 for c in calls)) < 1e-9
    latency = families["perimeter_upstream_latency_seconds"]
    count = sum(s.value for s in latency.samples if s.name.endswith("_count"))
    assert count == 4
    # No key id, secret or unbounded label: the model of an unserved request is "other".
    text = body.decode()
    assert key["key"] not in text and key["id"] not in text and canary["key"] not in text
