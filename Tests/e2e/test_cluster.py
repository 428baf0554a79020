"""Three `perimeter serve` processes on one PostgreSQL, as a team runs them behind a load balancer:
budgets leased from the shared pool hold across instances under concurrency, key changes are seen
everywhere within a second, each alert reaches the receiver once, PostgreSQL can go away for ten
seconds under load without losing a completed call, and a killed instance's lease comes back.
Runs when POSTGRES_URL names a server (scripts/test starts a throwaway cluster)."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

import upstream_double as up
from perimeter_harness import nanos, openai_client
from test_alerts import SECRET, Receiver, alerts_yaml
from test_limits import (
    CHAT_COST_NANOS,
    CONCURRENT_CALLS,
    FITTING_CALLS,
    PROBE_BODY,
    PROBE_BUDGET_NANOS,
    UPSTREAM_DELAY,
    check_overlap,
    collect,
    key_view,
    upstream_probes,
    usd,
)
from test_postgres import fresh_database, psql, wait_until

POSTGRES_URL = os.environ.get("POSTGRES_URL", "")
pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="POSTGRES_URL is not set (scripts/test sets it)")
REPO = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3


def cluster_yaml(receiver_url: str, rules: str = "", lease: int = LEASE_SECONDS) -> str:
    return (
        f"budget_lease: {lease}s\n"
        f"environments:\n  shared: {{ budget: {usd(PROBE_BUDGET_NANOS)}, period: month }}\n"
        + alerts_yaml(receiver_url, rules)
    )


def start_cluster(
    gateway_factory, url: str, receiver_url: str, count: int = 3, rules: str = "", prefix: str = "node", lease: int = LEASE_SECONDS
):
    return [
        gateway_factory(
            f"{prefix}-{index}",
            config={"upstream_timeout": 30, "extra_yaml": cluster_yaml(receiver_url, rules, lease)},
            extra_env={"PERIMETER_DATABASE": url, "ALERT_SECRET": SECRET},
        )
        for index in range(count)
    ]


@pytest.fixture(scope="module")
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(gateway_factory_session, receiver):
    url = fresh_database()
    nodes = start_cluster(gateway_factory_session, url, receiver.url, rules="  thresholds: [0.5]\n")
    # Every instance has announced itself (its first lease report) before the tests share budgets.
    wait_until(lambda: psql(url, "SELECT COUNT(*) FROM gateway_instances").stdout.strip() == "3", 10)
    return nodes, url


def fire_spread(gateways, keys: list[str], count: int, delay: float, tag: str):
    """Like test_limits.fire, with call i sent to gateway i mod 3 and key i mod len(keys)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def worker(index: int) -> None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", gateways[index % len(gateways)].port, timeout=60)
            connection.connect()
            barrier.wait(30)
            sent = time.monotonic()
            connection.request(
                "POST", "/v1/chat/completions", body=PROBE_BODY,
                headers={
                    "Authorization": f"Bearer {keys[index % len(keys)]}", "Content-Type": "application/json",
                    "x-double-delay": str(delay), "x-e2e-probe": tag,
                })
            response = connection.getresponse()
            data = response.read()
            results[index] = (response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(data), sent, time.monotonic())
            connection.close()
        except Exception as error:  # noqa: BLE001 - reported by collect
            errors.append(repr(error))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results, errors


def logged_cost(url: str, column: str, value: str) -> int:
    return int(psql(url, f"SELECT COALESCE(SUM(cost_nanos), 0) FROM calls WHERE {column} = '{value}' AND outcome <> 'in_flight'").stdout)


def test_a_key_budget_holds_across_three_instances_under_200_concurrent_calls(cluster, upstream):
    nodes, url = cluster
    key = nodes[0].cli_json("keys", "create", "--name", "shared-budget", "--env", "cluster", "--budget", usd(PROBE_BUDGET_NANOS))
    wait_until(lambda: all(node.http("GET", "/healthz")[0] == 200 for node in nodes), 5)
    time.sleep(1)  # the key reaches every instance within a second
    tag = secrets.token_hex(8)
    results = collect(*fire_spread(nodes, [key["key"]], CONCURRENT_CALLS, UPSTREAM_DELAY, tag))
    check_overlap(results, UPSTREAM_DELAY)
    served = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] != 200]
    # Never more than the budget; at most one call's worth may sit in another instance's lease.
    assert FITTING_CALLS - 1 <= len(served) <= FITTING_CALLS, sorted({(r[0], r[2].get("error", {}).get("code")) for r in results})
    assert upstream_probes(upstream, tag) == len(served)
    assert {r[2]["error"]["code"] for r in refused} == {"budget_exceeded"}
    # Every instance refused some: each decided against the one shared budget (which instances got
    # the leases first is a race).
    for index in range(3):
        assert any(r[0] == 429 for r in results[index::3])
    # Settled: each instance's view and the shared call log agree on the spend, to the nanodollar.
    wait_until(lambda: logged_cost(url, "key_id", key["id"]) == len(served) * CHAT_COST_NANOS, 10)
    for node in nodes:
        wait_until(lambda: nanos(key_view(node, key["id"])["budget"]["spent_usd"]) == len(served) * CHAT_COST_NANOS, 5)


def test_an_environment_budget_holds_across_three_instances(cluster, upstream):
    nodes, url = cluster
    keys = [nodes[i].cli_json("keys", "create", "--name", f"env-{i}", "--env", "shared") for i in range(3)]
    time.sleep(1)
    tag = secrets.token_hex(8)
    results = collect(*fire_spread(nodes, [k["key"] for k in keys], CONCURRENT_CALLS, UPSTREAM_DELAY, tag))
    check_overlap(results, UPSTREAM_DELAY)
    served = [r for r in results if r[0] == 200]
    assert FITTING_CALLS - 1 <= len(served) <= FITTING_CALLS
    assert upstream_probes(upstream, tag) == len(served)
    assert {r[2]["error"]["code"] for r in results if r[0] != 200} == {"budget_exceeded"}
    wait_until(lambda: logged_cost(url, "env", "shared") == len(served) * CHAT_COST_NANOS, 10)


def test_a_key_revoked_through_one_instance_is_refused_by_the_others_within_a_second(cluster, marker):
    nodes, _ = cluster
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"revoke {marker}"}]}).encode()

    def status_on(node, key: str) -> int:
        return node.http("POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})[0]

    key = nodes[1].cli_json("keys", "create", "--name", "made-on-b", "--env", "cluster")
    assert wait_until(lambda: status_on(nodes[2], key["key"]) == 200, 1.0) < 1.0
    nodes[0].cli("keys", "revoke", key["id"])
    assert wait_until(lambda: status_on(nodes[1], key["key"]) == 401 and status_on(nodes[2], key["key"]) == 401, 1.0) < 1.0


def test_a_rotation_retried_on_other_instances_rotates_once(cluster, marker):
    nodes, url = cluster
    key = nodes[0].cli_json("keys", "create", "--name", "rotated-once", "--env", "cluster")
    # The first rotation, then its retry through each of the other instances: one new secret.
    first = nodes[0].cli_json("keys", "rotate", key["id"], "--idempotency-key", f"deploy-{marker}")
    for node in nodes[1:]:
        again = node.cli_json("keys", "rotate", key["id"], "--idempotency-key", f"deploy-{marker}")
        assert again["key"]["key"] == first["key"]["key"]
    # Sent to all three at once with a new Idempotency-Key: one rotation, one answer for all.
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(
            lambda index: nodes[index % 3].cli_json("keys", "rotate", key["id"], "--idempotency-key", f"race-{marker}"), range(6)))
    assert len({answer["key"]["key"] for answer in answers}) == 1
    assert nodes[2].cli_json("keys", "show", key["id"])["generation"] == 3
    # The database holds neither Idempotency-Key nor secret in the clear.
    rows = psql(url, "SELECT lookup, encode(sealed, 'escape') FROM rotation_replays").stdout
    assert marker not in rows and first["key"]["key"] not in rows


def test_a_keys_rate_limit_holds_across_three_instances(cluster, marker):
    nodes, _ = cluster
    key = nodes[0].cli_json("keys", "create", "--name", "rated", "--env", "cluster", "--rpm", "30")
    time.sleep(1)
    body = json.dumps({"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": f"rate {marker}"}]}).encode()
    statuses = [
        nodes[index % 3].http("POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {key['key']}", "Content-Type": "application/json"})[0]
        for index in range(45)
    ]
    # Each instance holds a third of 30 a minute: spread evenly, the key gets its 30 and no more
    # (one more at most, from what the buckets refill while the calls are made).
    assert 30 <= statuses.count(200) <= 31, statuses
    assert set(statuses) == {200, 429}


def test_a_keys_rate_limit_follows_its_traffic_to_one_instance(cluster, marker):
    """A sticky load balancer holds a client to one instance: within a few exchanges of demand that
    instance holds the key's limit less the idle instances' floors, and the idle ones keep only their floor."""
    nodes, _ = cluster
    key = nodes[0].cli_json("keys", "create", "--name", "sticky", "--env", "cluster", "--rpm", "60")
    time.sleep(1)
    body = json.dumps({"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": f"sticky {marker}"}]}).encode()
    headers = {"Authorization": f"Bearer {key['key']}", "Content-Type": "application/json"}

    def limit_at(node) -> int:
        status, answer, _ = node.http("POST", "/v1/chat/completions", body, headers)
        assert status in (200, 429), status
        return int(answer["x-ratelimit-limit-requests"])

    statuses = [nodes[0].http("POST", "/v1/chat/completions", body, headers)[0] for _ in range(25)]
    # Before any demand is known, an even split: 20 each.
    assert statuses.count(200) == 20 and statuses.count(429) == 5, statuses
    wait_until(lambda: limit_at(nodes[0]) == 56, 10)  # 60 less two floors of 2
    # The other instances learn that demand at their next exchange, once a second; then their first
    # call finds only their floor.
    time.sleep(3)
    assert limit_at(nodes[1]) == 2 and limit_at(nodes[2]) == 2
    # The larger share came as a faster refill, not as fresh calls: the minute's total stays within 60.
    admitted = statuses.count(200) + sum(nodes[0].http("POST", "/v1/chat/completions", body, headers)[0] == 200 for _ in range(40))
    assert admitted <= 60, admitted


def test_threshold_and_canary_alerts_reach_the_receiver_once_from_three_instances(cluster, receiver, marker):
    nodes, _ = cluster
    # $0.0002: each call costs 5,625 nanodollars, so the eighteenth crosses 50 %.
    key = nodes[0].cli_json("keys", "create", "--name", "alerting", "--env", "cluster", "--budget", "0.0002")
    time.sleep(1)
    for index in range(20):
        openai_client(nodes[index % 3], key["key"]).chat.completions.create(
            model="gpt-4o-mini", max_tokens=8, messages=[{"role": "user", "content": f"alert {index} {marker}"}])
    canary = nodes[2].cli_json("keys", "create", "--canary", "--name", "bait")
    time.sleep(1)
    with pytest.raises(openai.AuthenticationError):
        openai_client(nodes[1], canary["key"]).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": marker}])
    receiver.wait_for("budget_threshold", timeout=10)
    receiver.wait_for("canary_used", timeout=10)
    time.sleep(3)  # every instance has looked at the budget again and delivered what it would
    thresholds = [a for a in receiver.alerts("budget_threshold") if a["key_id"] == key["id"]]
    assert [float(a["details"]["threshold"]) for a in thresholds] == [0.5], thresholds
    assert len([a for a in receiver.alerts("canary_used") if a["key_id"] == canary["id"]]) == 1
    assert receiver.bad_signatures == 0


class Load:
    """Calls in a loop from a few threads, each to the next gateway, until stopped; keeps every
    answer's status and request id."""

    def __init__(self, gateways, keys: list[str], threads: int = 6):
        self.gateways, self.keys = gateways, keys
        self.answers: list[tuple[int, str | None, str | None]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(threads)
        self.futures = [self.pool.submit(self.run, index) for index in range(threads)]

    def run(self, index: int) -> None:
        count = 0
        while not self.stopping.is_set():
            node = self.gateways[(index + count) % len(self.gateways)]
            if not node.running:
                count += 1
                continue
            key = self.keys[count % len(self.keys)]
            body = json.dumps({"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": f"load {index} {count}"}]})
            try:
                status, headers, data = node.http(
                    "POST", "/v1/chat/completions", body.encode(), {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                    timeout=20)
                code = json.loads(data).get("error", {}).get("code") if status != 200 else None
                with self.lock:
                    self.answers.append((status, headers.get("x-perimeter-request-id"), code))
            except Exception:  # noqa: BLE001 - a killed instance drops its connections
                pass
            count += 1

    def stop(self) -> list[tuple[int, str | None, str | None]]:
        self.stopping.set()
        for future in self.futures:
            future.result(60)
        self.pool.shutdown()
        return self.answers


def own_postgres():
    """A cluster of this test's own, which it may stop and start."""
    directory = Path(tempfile.mkdtemp(prefix="perimeter-pg-outage-"))
    directory.chmod(0o755)
    started = subprocess.run([str(REPO / "scripts/postgres"), "start", str(directory / "cluster")], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    return directory / "cluster", started.stdout.strip()


def test_postgres_stopped_for_ten_seconds_under_load_loses_no_completed_call(gateway_factory, receiver):
    cluster_dir, server = own_postgres()
    try:
        name = "perimeter_outage"
        assert psql(server, f"CREATE DATABASE {name}").returncode == 0
        url = server.split("?")[0].rsplit("/", 1)[0] + f"/{name}?sslmode=disable"
        # Leases longer than the outage: calls with a budget go on within them, and the budget is
        # exact afterwards. (An outage longer than the leases has them reclaimed; a call then in flight
        # counts at its worst case until its instance reports back.)
        nodes = start_cluster(gateway_factory, url, receiver.url, count=2, prefix="outage", lease=30)
        budgeted = nodes[0].cli_json("keys", "create", "--name", "budgeted", "--env", "cluster", "--budget", "50")
        free = nodes[0].cli_json("keys", "create", "--name", "unbudgeted", "--env", "cluster")
        time.sleep(1)
        load = Load(nodes, [budgeted["key"], free["key"]])
        time.sleep(2)
        subprocess.run([str(REPO / "scripts/postgres"), "stop", str(cluster_dir)], check=True, timeout=60)
        stopped_at = time.monotonic()
        time.sleep(10)
        # Meanwhile: calls without a budget go on; /readyz says what is wrong.
        ready = nodes[0].http("GET", "/readyz")
        during = len(load.answers)
        subprocess.run([str(REPO / "scripts/postgres"), "resume", str(cluster_dir)], check=True, timeout=60)
        time.sleep(3)
        answers = load.stop()
        assert ready[0] == 503 and json.loads(ready[2])["checks"]["database"] != "ok", ready
        ok = [request_id for status, request_id, _ in answers if status == 200]
        assert len(ok) > 20 and during > 0
        codes = {code for status, _, code in answers if status != 200}
        assert codes <= {"ledger_unavailable", "call_log_unavailable"}, codes
        assert any(status == 200 for status, _, _ in answers[-20:])  # working again
        # Every call answered 200 is in the shared call log, once the instances have written their backlog.
        def logged() -> set[str]:
            return set(psql(url, "SELECT id FROM calls WHERE outcome = 'ok'").stdout.split())
        try:
            wait_until(lambda: set(ok) <= logged(), 20)
        except AssertionError:
            missing = set(ok) - logged()
            rows = psql(url, "SELECT id, outcome FROM calls WHERE id IN (" + ",".join(f"'{i}'" for i in list(missing)[:5]) + ")").stdout
            raise AssertionError(f"{len(missing)} of {len(ok)} answered calls missing: {rows}\n" + "\n".join(n.stderr_text()[-3000:] for n in nodes))
        # Budgets still exact: the key's spend as the instances see it is what the log holds.
        def agree() -> bool:
            return all(nanos(key_view(node, budgeted["id"])["budget"]["spent_usd"]) == logged_cost(url, "key_id", budgeted["id"]) for node in nodes)
        try:
            wait_until(agree, 20)
        except AssertionError:
            views = [key_view(node, budgeted["id"])["budget"] for node in nodes]
            pool = psql(url, "SELECT counter, spent_nanos FROM budget_pools").stdout
            leases = psql(url, "SELECT instance, granted_nanos, used_nanos, counted_nanos, swept, epoch FROM budget_leases").stdout
            outcomes = psql(url, f"SELECT outcome, COUNT(*), SUM(cost_nanos) FROM calls WHERE key_id = '{budgeted['id']}' GROUP BY outcome").stdout
            raise AssertionError(
                f"spend views {views} vs logged {logged_cost(url, 'key_id', budgeted['id'])}\npool {pool}\nleases {leases}\n"
                f"calls {outcomes}\n" + "\n".join(n.stderr_text()[-3000:] for n in nodes))
        assert time.monotonic() - stopped_at < 60
        # The database goes away again, for good: SIGTERM still ends each instance promptly, and its
        # log names any part the shutdown waited on.
        subprocess.run([str(REPO / "scripts/postgres"), "stop", str(cluster_dir)], check=True, timeout=60)
        for node in nodes:
            started = time.monotonic()
            code = node.stop(timeout=15)
            assert code == 0, f"{node.name} exited {code} after {time.monotonic() - started:.1f} s\n{node.stderr_text()[-4000:]}"
    finally:
        subprocess.run([str(REPO / "scripts/postgres"), "stop", str(cluster_dir)], timeout=60)


def test_a_killed_instances_lease_returns_after_it_expires(gateway_factory, receiver):
    url = fresh_database()
    nodes = start_cluster(gateway_factory, url, receiver.url, prefix="kill")
    limit = 50
    key = nodes[0].cli_json("keys", "create", "--name", "killed", "--env", "cluster", "--budget", str(limit))
    time.sleep(1)
    load = Load(nodes, [key["key"]])
    time.sleep(2)
    nodes[2].kill()
    nodes[2].exit_code = -9
    killed_at = time.monotonic()
    time.sleep(1.5)
    before = len(load.answers)
    time.sleep(1.5)
    assert any(status == 200 for status, _, _ in load.answers[before:]), "the others went on"
    answers = load.stop()
    assert {code for status, _, code in answers if status != 200} <= set(), answers[-5:]
    # After the dead instance's lease expires (and the others give back what they no longer use), the
    # budget's remaining amount is the limit less what the call log says was spent: nothing stranded.
    def whole() -> bool:
        budget = key_view(nodes[0], key["id"])["budget"]
        spent = logged_cost(url, "key_id", key["id"])
        return nanos(budget["reserved_usd"]) == 0 and nanos(budget["spent_usd"]) == spent and nanos(budget["remaining_usd"]) == limit * 10**9 - spent
    waited = wait_until(whole, LEASE_SECONDS + 10)
    assert time.monotonic() - killed_at < LEASE_SECONDS + 12, waited
