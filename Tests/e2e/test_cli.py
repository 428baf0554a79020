"""The `perimeter` CLI against a running gateway: keys, calls and spend, in text and JSON."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time

import pytest

from perimeter_harness import (
    VIRTUAL_KEY_PATTERN,
    anthropic_client,
    expected_cost_nanos,
    nanos,
    openai_client,
)

GPT_4O_MINI = {"input": 0.15, "output": 0.60, "cached_input": 0.075}
CLAUDE_SONNET_4_5 = {"input": 3, "output": 15, "cached_input": 0.30, "cache_write": 3.75}


def parse_table(text: str, headers: list[str]) -> list[dict[str, str]]:
    """Checks that `text` is a table with exactly these headers, every cell starting in its header's
    column (two spaces apart), and returns the rows as dicts of stripped cells."""
    lines = text.rstrip("\n").split("\n")
    header = lines[0]
    assert re.split(r" {2,}", header.strip()) == headers, header
    starts = []
    position = 0
    for name in headers:
        position = header.index(name, position)
        starts.append(position)
        position += len(name)
    assert starts[0] == 0
    rows = []
    for line in lines[1:]:
        assert line.strip(), f"blank line in table:\n{text}"
        for start in starts[1:]:
            assert line[start - 2:start] == "  ", f"column at {start} misaligned in {line!r}\n{text}"
            assert len(line) > start and line[start] != " ", f"no cell at column {start} in {line!r}\n{text}"
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
        rows.append(dict(zip(headers, cells)))
    return rows


@pytest.fixture
def gw(gateway_factory):
    return gateway_factory("cli")


def test_keys_create_list_show_revoke(gw):
    # create, text: the plaintext is shown once, with the id.
    result = gw.cli("keys", "create", "--name", "billing-service", "--env", "prod", "--owner", "team-billing")
    match = re.search(r"Created key (key_[0-9A-Za-z]+) \(billing-service, env prod, owner team-billing\)\.", result.stdout)
    assert match, result.stdout
    text_id = match.group(1)
    keys_in_output = VIRTUAL_KEY_PATTERN.findall(result.stdout)
    assert len(keys_in_output) == 1 and keys_in_output[0].startswith("prm_prod_")
    text_key = keys_in_output[0]
    assert "only time" in result.stdout
    assert result.stderr == ""

    # create, JSON.
    created = gw.create_key("reporting", "staging")
    assert created["id"].startswith("key_")
    assert created["name"] == "reporting"
    assert created["env"] == "staging"
    assert created["owner"] is None
    assert created["status"] == "active"
    assert created["revoked_at"] is None
    assert VIRTUAL_KEY_PATTERN.fullmatch(created["key"])
    assert created["key"].startswith(created["prefix"])
    assert created["prefix"].startswith("prm_staging_")
    assert len(created["prefix"]) < len(created["key"]) - 20

    # list, JSON: both keys, no plaintext.
    listed = gw.cli_json("keys", "list")
    by_id = {k["id"]: k for k in listed["data"]}
    assert set(by_id) == {text_id, created["id"]}
    assert all("key" not in k for k in listed["data"])
    assert by_id[text_id]["owner"] == "team-billing"
    assert by_id[text_id]["env"] == "prod"
    assert text_key.startswith(by_id[text_id]["prefix"])
    assert [k["id"] for k in gw.cli_json("keys", "list", "--env", "staging")["data"]] == [created["id"]]
    assert gw.cli_json("keys", "list", "--env", "nosuchenv")["data"] == []

    # list, text: aligned table, no plaintext.
    result = gw.cli("keys", "list")
    rows = parse_table(result.stdout, ["ID", "NAME", "ENV", "OWNER", "PREFIX", "STATUS", "CREATED", "LAST USED"])
    assert {r["ID"] for r in rows} == {text_id, created["id"]}
    row = next(r for r in rows if r["ID"] == created["id"])
    assert row == {**row, "NAME": "reporting", "ENV": "staging", "OWNER": "-", "PREFIX": created["prefix"], "STATUS": "active", "LAST USED": "-"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", row["CREATED"]), row["CREATED"]
    assert text_key not in result.stdout and created["key"] not in result.stdout

    # show.
    shown = gw.cli_json("keys", "show", created["id"])
    assert shown["id"] == created["id"] and shown["status"] == "active" and "key" not in shown
    result = gw.cli("keys", "show", text_id)
    fields = {r["FIELD"]: r["VALUE"] for r in parse_table(result.stdout, ["FIELD", "VALUE"])}
    assert fields["id"] == text_id
    assert fields["name"] == "billing-service"
    assert fields["owner"] == "team-billing"
    assert fields["status"] == "active"
    assert fields["revoked"] == "-"

    # revoke, text and JSON.
    result = gw.cli("keys", "revoke", text_id)
    assert result.stdout.startswith(f"Revoked key {text_id} (billing-service) at ")
    assert "key_revoked" in result.stdout
    revoked = gw.cli_json("keys", "revoke", created["id"])
    assert revoked["status"] == "revoked"
    assert revoked["revoked_at"]
    shown = gw.cli_json("keys", "show", text_id)
    assert shown["status"] == "revoked" and shown["revoked_at"]
    fields = {r["FIELD"]: r["VALUE"] for r in parse_table(gw.cli("keys", "show", text_id).stdout, ["FIELD", "VALUE"])}
    assert fields["status"] == "revoked" and fields["revoked"] != "-"
    # Revoked keys stay listed.
    assert {k["status"] for k in gw.cli_json("keys", "list")["data"]} == {"revoked"}


def test_calls_and_spend(gw, upstream):
    team = gw.create_key("svc-a", "prod", owner="team-a")
    other = gw.create_key("svc-b", "dev")
    oai_a = openai_client(gw, team["key"])
    ant_b = anthropic_client(gw, other["key"])
    ids = []
    for prompt in ("one", "two"):
        raw = oai_a.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
        ids.append(raw.headers["x-perimeter-request-id"])
    raw = ant_b.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "three"}]
    )
    ids.append(raw.headers["x-perimeter-request-id"])
    for request_id in ids:
        gw.wait_for_call(request_id)

    # calls, JSON: newest first, filters.
    calls = gw.calls()
    assert [c["id"] for c in calls] == list(reversed(ids))
    assert [c["id"] for c in gw.calls("--key", team["id"])] == list(reversed(ids[:2]))
    assert [c["id"] for c in gw.calls("--env", "dev")] == [ids[2]]
    assert [c["id"] for c in gw.cli_json("calls", "--limit", "1")["data"]] == [ids[2]]
    assert len(gw.cli_json("calls", "--since", "1h")["data"]) == 3
    expected_fields = {
        "id", "time", "key_id", "key_name", "key_generation", "env", "owner", "client_ip", "provider", "model", "operation", "stream",
        "status", "outcome", "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "cost_usd",
        "latency_ms", "error_code", "usage_source",
    }
    assert set(calls[0]) == expected_fields

    # calls, text.
    result = gw.cli("calls")
    rows = parse_table(
        result.stdout, ["TIME", "KEY", "GEN", "ENV", "CLIENT", "PROVIDER", "MODEL", "OP", "STATUS", "OUTCOME", "IN", "OUT", "USAGE", "COST", "MS"]
    )
    assert [r["MODEL"] for r in rows] == ["claude-sonnet-4-5", "gpt-4o-mini", "gpt-4o-mini"]
    assert [r["KEY"] for r in rows] == ["svc-b", "svc-a", "svc-a"]
    assert rows[0]["OP"] == "messages" and rows[1]["OP"] == "chat"
    assert rows[0]["IN"] == "20" and rows[0]["OUT"] == "9"
    assert rows[1]["IN"] == "11" and rows[1]["OUT"] == "7"
    assert all(r["STATUS"] == "200" and r["OUTCOME"] == "ok" and r["CLIENT"] == "127.0.0.1" for r in rows)
    assert all(r["USAGE"] == "provider" for r in rows)
    assert rows[0]["COST"] == "$0.000183"
    assert rows[1]["COST"] == "$0.000006"

    # spend by model, JSON: exact sums.
    chat_nanos = expected_cost_nanos(
        {"input_tokens": 11, "cached_input_tokens": 3, "output_tokens": 7}, GPT_4O_MINI
    )
    claude_nanos = expected_cost_nanos(
        {"input_tokens": 20, "cached_input_tokens": 5, "cache_write_tokens": 2, "output_tokens": 9}, CLAUDE_SONNET_4_5
    )
    spend = gw.cli_json("spend", "--by", "model")
    assert spend["group_by"] == "model"
    # Without --since the window is all time (the field is left out or null).
    assert spend.get("since") is None
    groups = {row["group"]: row for row in spend["data"]}
    assert set(groups) == {"gpt-4o-mini", "claude-sonnet-4-5"}
    gpt = groups["gpt-4o-mini"]
    assert (gpt["calls"], gpt["input_tokens"], gpt["cached_input_tokens"], gpt["output_tokens"]) == (2, 22, 6, 14)
    assert nanos(gpt["cost_usd"]) == 2 * chat_nanos
    assert gpt["unpriced_calls"] == 0
    claude = groups["claude-sonnet-4-5"]
    assert (claude["calls"], claude["input_tokens"], claude["cached_input_tokens"], claude["output_tokens"]) == (1, 20, 5, 9)
    assert nanos(claude["cost_usd"]) == claude_nanos
    total = spend["total"]
    assert (total["calls"], total["input_tokens"], total["output_tokens"]) == (3, 42, 23)
    assert nanos(total["cost_usd"]) == 2 * chat_nanos + claude_nanos

    # spend by model, text.
    result = gw.cli("spend", "--by", "model")
    rows = parse_table(result.stdout, ["MODEL", "CALLS", "INPUT", "CACHED", "OUTPUT", "COST"])
    by_model = {r["MODEL"]: r for r in rows}
    assert set(by_model) == {"gpt-4o-mini", "claude-sonnet-4-5", "total"}
    assert rows[-1]["MODEL"] == "total"
    assert by_model["gpt-4o-mini"]["CALLS"] == "2" and by_model["gpt-4o-mini"]["INPUT"] == "22"
    assert by_model["total"]["CALLS"] == "3" and by_model["total"]["OUTPUT"] == "23"
    assert by_model["claude-sonnet-4-5"]["COST"] == "$0.000183"

    # other groupings.
    by_env = {r["group"]: r for r in gw.cli_json("spend", "--by", "env")["data"]}
    assert {g: r["calls"] for g, r in by_env.items()} == {"prod": 2, "dev": 1}
    by_owner = {r["group"]: r["calls"] for r in gw.cli_json("spend", "--by", "owner")["data"]}
    assert by_owner == {"team-a": 2, "": 1}
    spend_30d = gw.cli_json("spend", "--by", "key", "--since", "30d")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", spend_30d["since"]), spend_30d["since"]
    by_key = {r["group"]: r["calls"] for r in spend_30d["data"]}
    assert by_key == {team["id"]: 2, other["id"]: 1}
    # A window that ends before the calls were made holds none of them; one ending now holds all.
    assert gw.cli_json("spend", "--since", "30d", "--until", "1h")["data"] == []
    assert sum(r["calls"] for r in gw.cli_json("spend", "--until", "0s")["data"]) == 3
    rows = parse_table(gw.cli("spend", "--by", "owner").stdout, ["OWNER", "CALLS", "INPUT", "CACHED", "OUTPUT", "COST"])
    assert {r["OWNER"] for r in rows} == {"team-a", "(none)", "total"}

    # An unpriced model is counted, and said to be unpriced.
    raw = oai_a.chat.completions.with_raw_response.create(model="gpt-zz-experimental", messages=[{"role": "user", "content": "?"}])
    gw.wait_for_call(raw.headers["x-perimeter-request-id"])
    spend = gw.cli_json("spend", "--by", "model")
    unpriced = next(r for r in spend["data"] if r["group"] == "gpt-zz-experimental")
    assert unpriced["calls"] == 1 and unpriced["unpriced_calls"] == 1 and unpriced["cost_usd"] == 0
    assert spend["total"]["unpriced_calls"] == 1 and spend["total"]["calls"] == 4
    assert nanos(spend["total"]["cost_usd"]) == 2 * chat_nanos + claude_nanos
    rows = {r["MODEL"]: r for r in parse_table(gw.cli("spend", "--by", "model").stdout, ["MODEL", "CALLS", "INPUT", "CACHED", "OUTPUT", "COST"])}
    assert rows["gpt-zz-experimental"]["COST"].endswith("(+1 unpriced)")
    assert rows["total"]["COST"].endswith("(+1 unpriced)")
    calls_rows = parse_table(gw.cli("calls", "--limit", "1").stdout, ["TIME", "KEY", "GEN", "ENV", "CLIENT", "PROVIDER", "MODEL", "OP", "STATUS", "OUTCOME", "IN", "OUT", "USAGE", "COST", "MS"])
    assert calls_rows[0]["MODEL"] == "gpt-zz-experimental" and calls_rows[0]["COST"] == "unpriced"

    # Key's last use is recorded.
    assert gw.cli_json("keys", "show", team["id"])["last_used_at"]


def test_empty_outputs(gw):
    assert gw.cli("keys", "list").stdout.startswith("No keys yet.")
    assert gw.cli("calls").stdout.strip() == "No calls match."
    assert gw.cli("spend").stdout.strip() == "No calls in this window."
    assert gw.cli_json("calls") == {"data": []}


def assert_one_line_error(result, *needles: str) -> str:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip("\n").split("\n")
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_cli_errors(gw):
    assert_one_line_error(gw.cli("keys", "show", "key_doesnotexist", check=False), "key_doesnotexist", "404")
    assert_one_line_error(gw.cli("keys", "revoke", "key_doesnotexist", check=False), "key_doesnotexist")
    assert_one_line_error(gw.cli("keys", "show", "not a key!", check=False), "not a key id")
    assert_one_line_error(gw.cli("keys", "create", "--name", "x", "--env", "Bad_Env", check=False), "env")
    assert_one_line_error(gw.cli("spend", "--by", "planet", check=False), "group_by")
    assert_one_line_error(gw.cli("calls", "--since", "yesterday", check=False), "since")
    # Nothing was created by the failed commands.
    assert gw.cli_json("keys", "list")["data"] == []


def test_cli_wrong_admin_token(gw):
    line = assert_one_line_error(gw.cli("keys", "list", token="prmadm_wrong", check=False), "admin token", "401")
    assert "prmadm_wrong" not in line
    assert_one_line_error(gw.cli("keys", "create", "--name", "x", "--env", "prod", token="nope", check=False), "admin token")
    assert gw.cli_json("keys", "list")["data"] == []


def test_cli_without_any_admin_token(gw):
    # No PERIMETER_ADMIN_TOKEN and no saved token file in HOME.
    result = gw.cli("keys", "list", token=None, env={"HOME": str(gw.workdir / "empty-home")}, check=False)
    assert_one_line_error(result, "no admin token")


def test_cli_unreachable_gateway(gw):
    """A gateway that is not running (connection refused) is reported at once, not after a long wait."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        started = time.monotonic()
        try:
            result = gw.cli("keys", "list", env={"PERIMETER_URL": url}, check=False, timeout=6)
        except subprocess.TimeoutExpired:
            pytest.fail(f"perimeter keys list against a refused port ({url}) was still running after 6 s")
        assert_one_line_error(result, "cannot reach the gateway", url)
        assert time.monotonic() - started < 5
    finally:
        sock.close()


def test_text_output_never_prints_control_characters(gateway, marker):
    """A scanned path can hold any character; printed raw, an escape sequence would rewrite the
    operator's terminal (hide a line, fake another). Text output writes control characters as \\xNN."""
    path = f"repo/{marker}\x1b[2K\x1b[1Ainnocent.txt"
    finding = {"rule": "openai-api-key", "provider": "OpenAI", "path": path, "line": 3, "sha256": "ab" * 32}
    status, _, _ = gateway.http(
        "POST", "/admin/v1/findings", json.dumps({"findings": [finding]}).encode(),
        {"Authorization": f"Bearer {gateway.admin_token}", "Content-Type": "application/json"})
    assert status == 200
    shown = gateway.cli("inventory").stdout
    assert "\x1b" not in shown
    assert f"repo/{marker}\\x1b[2K\\x1b[1Ainnocent.txt:3" in shown


def test_prices_show_what_calls_are_charged_by_and_where_it_comes_from(gateway):
    # The test configuration prices cut-stream itself; gpt-4o-mini too (overriding the built-in entry).
    rows = {r["model"]: r for r in gateway.cli_json(
        "prices", "gpt-4o-2024-08-06", "us.anthropic.claude-sonnet-4-20250514-v1:0", "cut-stream", "no-such-model")["data"]}
    assert rows["gpt-4o-2024-08-06"]["entry"] == "gpt-4o" and rows["gpt-4o-2024-08-06"]["source"] == "OpenAI"
    assert rows["gpt-4o-2024-08-06"]["price"]["input"] == 2.5 and rows["gpt-4o-2024-08-06"]["listed"]
    bedrock = rows["us.anthropic.claude-sonnet-4-20250514-v1:0"]
    assert bedrock["entry"] == "claude-sonnet-4" and bedrock["price"]["output"] == 15
    assert rows["cut-stream"]["source"] == "config" and "listed" not in rows["cut-stream"]
    assert "price" not in rows["no-such-model"] and "entry" not in rows["no-such-model"]
    text = gateway.cli("prices").stdout
    assert text.splitlines()[0].split()[:3] == ["MODEL", "PRICED", "AS"]
    assert any(line.split()[0] == "gpt-4o-mini" and "config" in line for line in text.splitlines())
