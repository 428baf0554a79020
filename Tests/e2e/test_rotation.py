"""Rotation, inventory and audit through the real binary: the official SDK sees the old secret work
until its grace period ends, scheduled rotations deliver each new secret, every admin action is in
the audit log exactly once, and `perimeter inventory` lists every key."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import time
from pathlib import Path

import openai
import pytest

from perimeter_harness import openai_client


def chat(gw, key: str, marker: str):
    return openai_client(gw, key).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": marker}]
    )


def test_rotation_with_grace_through_the_sdk(gateway_factory, marker):
    gw = gateway_factory("rotation")
    key = gw.create_key("svc", "prod", owner="team-a")
    old = key["key"]
    chat(gw, old, f"gen1 {marker}")

    rotated = gw.cli_json("keys", "rotate", key["id"], "--grace", "3s")
    new = rotated["key"]["key"]
    assert new != old and new.startswith("prm_prod_")
    assert rotated["key"]["id"] == key["id"] and rotated["key"]["generation"] == 2
    assert rotated["previous_generation"] == 1
    retires = time.time() + 3

    old_call = chat(gw, old, f"old in grace {marker}")
    new_call = chat(gw, new, f"new {marker}")
    assert old_call.http_response.status_code == 200 and new_call.http_response.status_code == 200

    time.sleep(max(0, retires - time.time()) + 0.3)
    with pytest.raises(openai.AuthenticationError) as refused:
        openai_client(gw, old).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": marker}])
    assert refused.value.status_code == 401
    assert refused.value.body["code"] == "key_rotated"
    assert chat(gw, new, f"new after grace {marker}").http_response.status_code == 200

    # The call log says which generation served each call, so stragglers on the old secret show up.
    generations = {
        c["id"]: c["key_generation"] for c in gw.calls("--key", key["id"])
    }
    assert generations[old_call.headers["x-perimeter-request-id"]] == 1
    assert generations[new_call.headers["x-perimeter-request-id"]] == 2
    # Limits and identity stay with the key id.
    shown = gw.cli_json("keys", "show", key["id"])
    assert shown["generation"] == 2 and shown["owner"] == "team-a" and shown["prefix"] == new[: len(shown["prefix"])]


def test_rotate_is_idempotent_and_refuses_bad_requests(gateway_factory):
    gw = gateway_factory("rotation-idempotent")
    key = gw.create_key("svc", "dev", owner="team-a")
    first = gw.cli_json("keys", "rotate", key["id"], "--idempotency-key", "deploy-42")
    again = gw.cli_json("keys", "rotate", key["id"], "--idempotency-key", "deploy-42")
    assert first["key"]["key"] == again["key"]["key"]
    assert gw.cli_json("keys", "show", key["id"])["generation"] == 2
    # The answer outlives a restart (a retry after a deploy), and the database holds no copy of it in the clear.
    assert gw.stop() == 0
    gw.start()
    after_restart = gw.cli_json("keys", "rotate", key["id"], "--idempotency-key", "deploy-42")
    assert after_restart["key"]["key"] == first["key"]["key"]
    assert gw.cli_json("keys", "show", key["id"])["generation"] == 2
    stored = b"".join(path.read_bytes() for path in gw.database.parent.glob(gw.database.name + "*"))
    assert b"deploy-42" not in stored and first["key"]["key"].encode() not in stored
    other = gw.create_key("other", "dev")
    reused = gw.cli("keys", "rotate", other["id"], "--idempotency-key", "deploy-42", check=False)
    assert reused.returncode != 0 and "another key" in reused.stderr

    bad_grace = gw.cli("keys", "rotate", key["id"], "--grace", "forever", check=False)
    assert bad_grace.returncode != 0 and "grace" in bad_grace.stderr
    bad_target = gw.cli("keys", "update", key["id"], "--deliver-to", "s3:bucket/key", check=False)
    assert bad_target.returncode != 0 and "deliver_to" in bad_target.stderr
    # An admin token alone cannot write files on the gateway's host: file delivery is off until the
    # configuration names the directories it may write to.
    for target in ("file:/etc/perimeter-e2e-key", "file:/tmp/perimeter-e2e-key"):
        refused = gw.cli("keys", "update", key["id"], "--deliver-to", target, check=False)
        assert refused.returncode != 0 and "rotation.delivery_directories" in refused.stderr
    assert not Path("/etc/perimeter-e2e-key").exists() and not Path("/tmp/perimeter-e2e-key").exists()
    gw.cli("keys", "revoke", key["id"])
    revoked = gw.cli("keys", "rotate", key["id"], check=False)
    assert revoked.returncode != 0 and "revoked" in revoked.stderr
    assert gw.cli_json("keys", "show", key["id"])["generation"] == 2


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_scheduled_rotation_delivers_into_a_file_and_the_built_in_store(gateway_factory, tmp_path, marker):
    target = tmp_path / "app" / "perimeter-key"
    target.parent.mkdir()
    gw = gateway_factory(
        "rotation-scheduled", config={"extra_yaml": f"rotation:\n  delivery_directories: [{target.parent}]\n"})
    file_key = gw.cli_json(
        "keys", "create", "--name", "file-app", "--env", "prod", "--owner", "team-a",
        "--rotate-every", "2s", "--rotation-grace", "30s", "--deliver-to", f"file:{target}",
    )
    # The first secret is delivered at creation, with mode 0600.
    assert target.read_text().strip() == file_key["key"]
    # Outside the delivery directory, by `..` or through a symbolic link, nothing is written.
    outside = tmp_path / "outside"
    outside.mkdir()
    (target.parent / "link").symlink_to(outside)
    for escape in (f"{target.parent}/../outside/key", f"{target.parent}/link/key"):
        refused = gw.cli("keys", "create", "--name", "escape", "--env", "prod", "--deliver-to", f"file:{escape}", check=False)
        assert refused.returncode != 0 and "delivery_directories" in refused.stderr
    assert list(outside.iterdir()) == []
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600

    store_key = gw.cli_json(
        "keys", "create", "--name", "store-app", "--env", "prod", "--owner", "team-b",
        "--rotate-every", "2s", "--deliver-to", "store:store-app-key",
    )
    assert store_key["rotation"]["deliver_to"] == "store:store-app-key"

    delivered = wait_for(
        lambda: (content := target.read_text().strip()) != file_key["key"] and content, 10, "the scheduled rotation"
    )
    assert delivered.startswith("prm_prod_")
    # What was delivered is the key's current secret: it works, and so does the old one, in its grace.
    assert chat(gw, delivered, f"delivered {marker}").http_response.status_code == 200
    assert chat(gw, file_key["key"], f"old {marker}").http_response.status_code == 200
    generation = gw.cli_json("keys", "show", file_key["id"])["generation"]
    assert generation >= 2

    versions = wait_for(
        lambda: next(
            (s["version"] for s in gw.cli_json("secrets", "list")["data"] if s["name"] == "store-app-key" and s["version"] >= 2),
            None,
        ),
        10, "delivery into the built-in store",
    )
    shown = gw.cli_json("keys", "show", store_key["id"])
    # One store version per secret: the first at creation, one more per rotation.
    assert versions in (shown["generation"], shown["generation"] - 1, shown["generation"] + 1)

    audit = gw.cli_json("audit")["data"]
    scheduled = [e for e in audit if e["action"] == "key.rotate" and e["actor"] == "scheduler"]
    assert {e["target"] for e in scheduled} >= {file_key["id"], store_key["id"]}
    # The secret never lands in the audit log or the gateway's output.
    for text in [str(audit), gw.stdout_text(), gw.stderr_text()]:
        assert delivered not in text and file_key["key"] not in text


def test_every_admin_action_is_audited_once_and_viewers_only_read(gateway_factory):
    gw = gateway_factory("audit")
    key = gw.create_key("svc", "dev", owner="team-a")
    gw.cli("keys", "update", key["id"], "--rpm", "30")
    gw.cli("keys", "rotate", key["id"], "--grace", "0s")
    gw.cli("secrets", "put", "upstream", input="sk-audit-test-value-123456")
    gw.cli("secrets", "rotate", "upstream", input="sk-audit-test-value-654321")
    viewer = gw.cli_json("admins", "create", "--name", "auditor", "--role", "viewer")
    gw.cli("keys", "revoke", key["id"])

    denied = gw.cli("keys", "create", "--name", "x", "--env", "dev", token=viewer["token"], check=False)
    assert denied.returncode != 0 and "viewer" in denied.stderr
    entries = gw.cli_json("audit", token=viewer["token"])["data"]
    assert [e["action"] for e in reversed(entries)] == [
        "key.create", "key.update", "key.rotate", "secret.put", "secret.rotate", "admin.create", "key.revoke",
    ]
    update = next(e for e in entries if e["action"] == "key.update")
    assert '"rpm":30' in update["details"] and update["address"] == "127.0.0.1" and update["target"] == key["id"]
    assert all("sk-audit-test-value" not in e["details"] for e in entries)
    gw.cli("admins", "revoke", viewer["id"])
    gone = gw.cli("audit", token=viewer["token"], check=False)
    assert gone.returncode != 0
    assert gw.cli_json("audit")["data"][0]["action"] == "admin.revoke"


def test_inventory_lists_every_key_and_credential(gateway_factory, marker):
    gw = gateway_factory("inventory")
    used = gw.create_key("used", "prod", owner="team-a")
    gw.create_key("unowned", "dev")
    revoked = gw.create_key("gone", "dev", owner="team-b")
    gw.cli("keys", "revoke", revoked["id"])
    chat(gw, used["key"], f"inventory {marker}")

    def has_ip():
        report = gw.cli_json("inventory")
        row = next(k for k in report["keys"] if k["id"] == used["id"])
        return report if row["last_client_ip"] else None

    report = wait_for(has_ip, 10, "the call to reach the inventory")
    assert set(report) == {"generated_at", "keys", "credentials", "findings", "summary", "owners", "provider_keys", "provider_sync"}
    assert report["provider_keys"] == [] and report["provider_sync"] == [], "no provider here has an admin_key"
    by_name = {k["name"]: k for k in report["keys"]}
    assert set(by_name) == {"used", "unowned", "gone"}
    assert by_name["used"]["status"] == "active" and by_name["used"]["last_client_ip"] == "127.0.0.1"
    assert by_name["used"]["spend_usd"] > 0
    assert by_name["unowned"]["flags"] == ["no_owner"]
    assert by_name["gone"]["status"] == "revoked"
    references = {c["reference"]: c for c in report["credentials"]}
    assert references["env:UPSTREAM_OPENAI_KEY"]["status"] == "ok"
    assert "provider:openai" in references["env:UPSTREAM_OPENAI_KEY"]["used_by"]
    summary = {s["env"]: s for s in report["summary"]}
    assert summary["dev"]["keys"] == 2 and summary["dev"]["revoked"] == 1 and summary["dev"]["unowned"] == 1

    finding = {"rule": "openai-project-key", "provider": "openai", "path": "scripts/old.py", "line": 7,
               "commit": "0123abc", "sha256": "f" * 64, "managed_key_id": None}
    status, _, body = gw.http(
        "POST", "/admin/v1/findings", json.dumps({"findings": [finding, finding]}).encode(),
        {"Authorization": f"Bearer {gw.admin_token}", "Content-Type": "application/json"},
    )
    assert status == 200 and json.loads(body) == {"received": 2, "new": 1}
    reported = gw.cli_json("inventory")["findings"]
    assert [(f["path"], f["line"], f["rule"]) for f in reported] == [("scripts/old.py", 7, "openai-project-key")]
    assert "Unmanaged keys reported by scans: 1" in gw.cli("inventory").stdout

    rows = list(csv.DictReader(io.StringIO(gw.cli("inventory", "--csv").stdout)))
    assert {r["name"] for r in rows} == {"used", "unowned", "gone"}
    text = gw.cli("inventory").stdout
    assert "Provider credentials" in text and "Summary" in text and used["id"] in text
