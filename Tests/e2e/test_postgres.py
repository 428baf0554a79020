"""The gateway on PostgreSQL (`database: postgres://...`): keys, calls, budgets and the audit log live
in the server, survive kill -9, and the audit log refuses changes at the database. Runs when
POSTGRES_URL names a server (scripts/test starts a throwaway cluster)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess

import pytest

import upstream_double as up
from perimeter_harness import nanos, openai_client

POSTGRES_URL = os.environ.get("POSTGRES_URL", "")
pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="POSTGRES_URL is not set (scripts/test sets it)")


def psql(database_url: str, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["psql", database_url.split("?")[0], "-v", "ON_ERROR_STOP=1", "-Atc", sql], capture_output=True, text=True, timeout=30)


def fresh_database() -> str:
    """A new, empty database on the test server; the gateway migrates it at start."""
    name = "perimeter_e2e_" + secrets.token_hex(6)
    created = psql(POSTGRES_URL, f"CREATE DATABASE {name}")
    assert created.returncode == 0, created.stderr
    base, _, query = POSTGRES_URL.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


def test_the_gateway_on_postgres_keeps_keys_calls_and_spend_through_kill_9(gateway_factory, marker):
    url = fresh_database()
    # A short budget lease: the killed instance's lease is reclaimed (its spend counted) two seconds on.
    lease = {"extra_yaml": "budget_lease: 2s\n"}
    gw = gateway_factory("postgres", config=lease, extra_env={"PERIMETER_DATABASE": url})
    key = gw.cli_json("keys", "create", "--name", "pg", "--env", "test", "--budget", "10", "--period", "month")
    raw = openai_client(gw, key["key"]).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"postgres {marker}"}])
    assert raw.parse().usage.prompt_tokens == up.CHAT_PROMPT_TOKENS
    request_id = raw.headers["x-perimeter-request-id"]
    # The answer's record was committed before its last byte left: it is in the server's call log now.
    rows = psql(url, f"SELECT outcome, input_tokens FROM calls WHERE id = '{request_id}'")
    assert rows.stdout.strip() == f"ok|{up.CHAT_PROMPT_TOKENS}", rows
    gw.kill()
    gw.exit_code = -9

    again = gateway_factory("postgres-again", config=lease, extra_env={"PERIMETER_DATABASE": url})
    assert request_id in {c["id"] for c in again.calls()}
    # Until the dead instance's lease expires its unreported spend shows as reserved; then the
    # reclaim counts it from the shared call log.
    wait_until(lambda: nanos(again.cli_json("keys", "show", key["id"])["budget"]["spent_usd"]) > 0, 8)
    second = openai_client(again, key["key"]).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"postgres again {marker}"}])
    assert second.usage.prompt_tokens == up.CHAT_PROMPT_TOKENS
    actions = [entry["action"] for entry in again.cli_json("audit")["data"]]
    assert "key.create" in actions

    # Append-only at the database: not even its owner rewrites the audit log.
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        refused = psql(url, statement)
        assert refused.returncode != 0 and "append-only" in refused.stderr, refused



def test_db_migrate_shows_then_applies_the_schema(tmp_path):
    from perimeter_harness import clean_environment, run_cli

    url = fresh_database()
    env = clean_environment(HOME=str(tmp_path))
    planned = run_cli(["db", "migrate", "--dry-run", "--json", "--database", url], env, tmp_path)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert [step["name"] for step in plan["pending"]] == [
        "0001-initial", "0002-budget-leases", "0003-rotation-replays", "0004-shared-limits", "0005-spend-rollup",
        "0006-provider-keys", "0007-finding-owners", "0008-console-reads", "0009-spend-daily",
    ] and not plan["applied"]
    assert any("CREATE TABLE calls" in statement for statement in plan["pending"][0]["statements"])
    assert psql(url, "SELECT to_regclass('calls') IS NULL").stdout.strip() == "t"  # nothing applied

    applied = run_cli(["db", "migrate", "--database", url], env, tmp_path)
    assert applied.returncode == 0 and "9 migration(s) applied" in applied.stdout, applied
    again = run_cli(["db", "migrate", "--dry-run", "--database", url], env, tmp_path)
    assert "up to date" in again.stdout

    sqlite = run_cli(["db", "migrate", "--dry-run", "--json", "--database", f"sqlite:{tmp_path / 'new.db'}"], env, tmp_path)
    assert json.loads(sqlite.stdout)["pending"][0]["name"] == "v1" and not (tmp_path / "new.db").exists()


def wait_until(predicate, timeout: float) -> float:
    """Seconds until `predicate()` held; fails after `timeout`."""
    import time

    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"not within {timeout} s"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_key_changed_through_one_instance_is_seen_by_the_other_within_a_second(gateway_factory, marker):
    url = fresh_database()
    a = gateway_factory("pg-a", extra_env={"PERIMETER_DATABASE": url})
    b = gateway_factory("pg-b", extra_env={"PERIMETER_DATABASE": url})
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"two {marker}"}]}).encode()

    def status_on(gateway, key: str) -> int:
        status, _, _ = gateway.http(
            "POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        return status

    key = b.cli_json("keys", "create", "--name", "made-on-b", "--env", "test")
    assert wait_until(lambda: status_on(a, key["key"]) == 200, 1.0) < 1.0
    a.cli("keys", "revoke", key["id"])
    assert wait_until(lambda: status_on(b, key["key"]) == 401, 1.0) < 1.0
    rotated = b.cli_json("keys", "create", "--name", "to-rotate", "--env", "test")
    wait_until(lambda: status_on(a, rotated["key"]) == 200, 1.0)
    new = b.cli_json("keys", "rotate", rotated["id"], "--grace", "0s")["key"]["key"]
    assert wait_until(lambda: status_on(a, new) == 200 and status_on(a, rotated["key"]) == 401, 1.0) < 1.0


def test_db_copy_moves_a_sqlite_installation_to_postgres_and_verifies_it(gateway_factory, marker, tmp_path):
    from perimeter_harness import clean_environment, run_cli

    old = gateway_factory("sqlite-to-move")
    key = old.cli_json("keys", "create", "--name", "moved", "--env", "test", "--budget", "5")
    revoked = old.cli_json("keys", "create", "--name", "gone", "--env", "test")
    old.cli("keys", "revoke", revoked["id"])
    for index in range(3):
        openai_client(old, key["key"]).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"move {index} {marker}"}])
    old.cli("secrets", "put", "moved-secret", input="sk-moved-value-0123456789")
    old.cli("secrets", "rotate", "moved-secret", input="sk-moved-value-9876543210")
    spent = nanos(old.cli_json("keys", "show", key["id"])["budget"]["spent_usd"])
    assert old.stop() == 0

    url = fresh_database()
    env = clean_environment(HOME=str(tmp_path))
    copied = run_cli(["db", "copy", f"sqlite:{old.database}", url, "--json"], env, tmp_path, timeout=120)
    assert copied.returncode == 0, copied.stderr
    report = json.loads(copied.stdout)
    assert report["verified"] is True
    tables = {t["name"]: t for t in report["tables"]}
    assert tables["keys"]["destination"] == 2 and tables["calls"]["destination"] >= 3
    assert tables["sealed_secrets"]["destination"] == 2 and tables["audit_log"]["destination"] >= 4
    assert all(t["matches"] for t in report["tables"])

    # Into a database that is not empty: refused, nothing written.
    again = run_cli(["db", "copy", f"sqlite:{old.database}", url], env, tmp_path, timeout=120)
    assert again.returncode != 0 and "not empty" in again.stderr, again
    text = run_cli(["db", "copy", "memory", url], env, tmp_path)
    assert text.returncode != 0 and "memory" in text.stderr
    missing = run_cli(["db", "copy", f"sqlite:{tmp_path / 'nothing.db'}", url], env, tmp_path)
    assert missing.returncode != 0 and "no database at" in missing.stderr and not (tmp_path / "nothing.db").exists()

    # The gateway on the new database, with the old master key: same keys, spend, calls and secrets.
    new = gateway_factory(
        "moved-to-postgres",
        extra_env={"PERIMETER_DATABASE": url, "PERIMETER_MASTER_KEY_FILE": str(old.database.parent / "perimeter.master-key")})
    view = new.cli_json("keys", "show", key["id"])
    assert nanos(view["budget"]["spent_usd"]) == spent > 0
    assert new.cli_json("keys", "show", revoked["id"])["status"] == "revoked"
    assert len([c for c in new.calls() if c["key_id"] == key["id"]]) == 3
    secrets_list = {s["name"]: s for s in new.cli_json("secrets", "list")["data"]}
    assert secrets_list["moved-secret"]["versions"] == 2
    openai_client(new, key["key"]).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"moved {marker}"}])


def test_the_built_in_store_on_postgres_refuses_to_seal_without_a_shared_master_key(gateway_factory):
    gw = gateway_factory("pg-no-master-key", extra_env={"PERIMETER_DATABASE": fresh_database()})
    put = gw.cli("secrets", "put", "lonely", input="sk-lonely-0123456789", check=False)
    assert put.returncode != 0 and "PERIMETER_MASTER_KEY" in put.stderr, put
    assert gw.cli_json("secrets", "list") == {"data": []}
