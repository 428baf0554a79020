"""The complete list, provider side: with an `admin_key`, the gateway reads OpenAI's and Anthropic's own
key lists and usage reports (a local double of both admin APIs, in their documented shapes and with
one item per page), tells the keys it holds from those it does not, raises `shadow_usage` when the
provider saw more use of its own credential than went through it and `unmanaged_key_used` when a key
it does not hold is used, and disables an unmanaged key on request, audited. A refused admin
credential is said once and the gateway keeps serving."""

from __future__ import annotations

import json
import urllib.request

import pytest

from admin_api_double import AdminAPIDouble
from perimeter_harness import anthropic_client, openai_client


@pytest.fixture
def double():
    server = AdminAPIDouble()
    yield server
    server.stop()


def providers(double: AdminAPIDouble) -> str:
    return (
        f"  - {{ name: oa, kind: openai, base_url: \"{double.base}/v1\", api_key: \"env:OA_KEY\", admin_key: \"env:OA_ADMIN\","
        " models: [\"inv-gpt*\"] }\n"
        f"  - {{ name: an, kind: anthropic, base_url: \"{double.base}\", api_key: \"env:AN_KEY\", admin_key: \"env:AN_ADMIN\","
        " models: [\"inv-claude*\"] }\n"
    )


def start(gateway_factory, double: AdminAPIDouble, anthropic_admin: str | None = None):
    env = {
        "OA_KEY": double.openai_keys["key_gateway"]["value"], "OA_ADMIN": double.openai_admin,
        "AN_KEY": double.anthropic_keys["apikey_01gateway"]["value"], "AN_ADMIN": anthropic_admin or double.anthropic_admin,
    }
    # The scheduled sync runs at start and then hourly: the test syncs on demand.
    return gateway_factory("provider-keys", config={"extra_providers": providers(double), "extra_yaml": "inventory: { provider_sync: 1h }\n"},
                           extra_env=env)


def direct_call(double: AdminAPIDouble, path: str, key: str, model: str) -> None:
    """A call straight to the provider, around the gateway."""
    headers = {"content-type": "application/json"}
    if path == "/v1/chat/completions":
        headers["authorization"] = f"Bearer {key}"
    else:
        headers.update({"x-api-key": key, "anthropic-version": "2023-06-01"})
    body = json.dumps({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}).encode()
    with urllib.request.urlopen(urllib.request.Request(double.base + path, body, headers), timeout=10) as response:
        assert response.status == 200


def alerts_of(gateway, kind: str) -> list[dict]:
    return [a for a in gateway.cli_json("alerts")["data"] if a["type"] == kind]


def test_the_inventory_lists_every_provider_key_and_catches_use_around_the_gateway(gateway_factory, double):
    gateway = start(gateway_factory, double)
    key = gateway.create_key("inv", "prod")["key"]
    # Calls through the gateway with the official SDKs: the providers meter them against the held keys.
    for _ in range(2):
        openai_client(gateway, key).chat.completions.create(model="inv-gpt", messages=[{"role": "user", "content": "hi"}])
        anthropic_client(gateway, key).messages.create(model="inv-claude", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    synced = gateway.cli_json("inventory", "sync")["data"]
    assert {(s["provider"], s["status"], s["keys"]) for s in synced} == {("oa", "ok", 4), ("an", "ok", 2)}

    inventory = gateway.cli_json("inventory")
    keys = {k["id"]: k for k in inventory["provider_keys"]}
    assert set(keys) == {"key_gateway", "key_laptop", "key_old", "key_admin", "apikey_01gateway", "apikey_02laptop"}
    assert keys["key_gateway"]["held_as"] == "env:OA_KEY" and keys["key_gateway"]["managed"] and keys["key_gateway"]["flags"] == []
    assert keys["key_admin"]["held_as"] == "env:OA_ADMIN" and keys["key_admin"]["kind"] == "admin_key"
    assert keys["key_laptop"]["flags"] == ["unmanaged"] and keys["key_laptop"]["owner"] == "bob@example.com"
    assert keys["key_laptop"]["scope_name"] == "Main" and keys["key_laptop"]["hint"].startswith("sk-proj-****")
    assert keys["key_old"]["flags"] == ["unmanaged", "unused_90d", "over_max_age"] and keys["key_old"]["kind"] == "service_account_key"
    assert keys["apikey_01gateway"]["held_as"] == "env:AN_KEY" and keys["apikey_02laptop"]["flags"] == ["unmanaged"]
    assert keys["apikey_02laptop"]["scope"] == "default" and keys["apikey_02laptop"]["owner"] == "user_02carol"
    assert all(double.openai_keys[i]["value"] not in json.dumps(inventory) for i in double.openai_keys)
    assert {s["provider"]: s["status"] for s in inventory["provider_sync"]} == {"an": "ok", "oa": "ok"}
    # Text and CSV show them too.
    text = gateway.cli("inventory").stdout
    assert "Provider keys" in text and "bob-laptop" in text and "env:OA_KEY" in text
    csv = gateway.cli("inventory", "--provider-keys", "--csv").stdout.splitlines()
    assert csv[0].startswith("provider,id,kind") and len(csv) == 7
    # Nothing went around the gateway yet: no alert.
    assert alerts_of(gateway, "shadow_usage") == [] and alerts_of(gateway, "unmanaged_key_used") == []

    # The gateway's own OpenAI key used straight at the provider (5,000 + 1,000 tokens the log never
    # saw), and each vendor's laptop key used.
    direct_call(double, "/v1/chat/completions", double.openai_keys["key_gateway"]["value"], "inv-gpt-big")
    direct_call(double, "/v1/chat/completions", double.openai_keys["key_laptop"]["value"], "inv-gpt")
    direct_call(double, "/v1/messages", double.anthropic_keys["apikey_02laptop"]["value"], "inv-claude")
    direct_call(double, "/v1/messages", double.anthropic_keys["apikey_01gateway"]["value"], "inv-claude-big")
    gateway.cli_json("inventory", "sync")
    shadow = {a["details"]["provider"]: a for a in alerts_of(gateway, "shadow_usage")}
    assert set(shadow) == {"oa", "an"} and all(a["severity"] == "critical" for a in shadow.values()), shadow
    assert int(shadow["oa"]["details"]["excess_tokens"]) == 6000 and int(shadow["an"]["details"]["excess_tokens"]) == 6000
    unmanaged = {a["details"]["provider_key_id"]: a for a in alerts_of(gateway, "unmanaged_key_used")}
    assert set(unmanaged) == {"key_laptop", "apikey_02laptop"} and unmanaged["key_laptop"]["severity"] == "warning"
    assert "bob@example.com" in unmanaged["key_laptop"]["message"]
    # Once per cause: another sync raises nothing new.
    gateway.cli_json("inventory", "sync")
    assert len(alerts_of(gateway, "shadow_usage")) == 2 and len(alerts_of(gateway, "unmanaged_key_used")) == 2
    status, _, metrics = gateway.http("GET", "/metrics")
    assert status == 200 and 'perimeter_alerts_raised_total{type="shadow_usage"} 2' in metrics.decode()
    # No secret, held or not, admin or not, in anything the gateway said.
    said = json.dumps([gateway.cli_json("inventory"), gateway.cli_json("alerts"), gateway.cli_json("audit")]) + gateway.stderr_text()
    secrets = [k["value"] for k in double.openai_keys.values()] + [k["value"] for k in double.anthropic_keys.values()]
    assert all(secret not in said for secret in secrets + [double.openai_admin, double.anthropic_admin])


def test_an_unmanaged_key_is_disabled_at_the_provider_only_on_request_and_audited(gateway_factory, double):
    gateway = start(gateway_factory, double)
    gateway.cli_json("inventory", "sync")
    # A viewer may look but not act.
    viewer = gateway.cli_json("admins", "create", "--name", "auditor", "--role", "viewer")["token"]
    assert gateway.cli("provider-keys", "list", token=viewer).returncode == 0
    denied = gateway.cli("provider-keys", "disable", "key_laptop", "--yes", token=viewer, check=False)
    assert denied.returncode != 0 and "viewer" in denied.stderr.lower(), denied.stderr
    # A dry run changes nothing; without a terminal, --yes is required.
    assert "Would disable bob-laptop (key_laptop)" in gateway.cli("provider-keys", "disable", "key_laptop", "--dry-run").stdout
    refused = gateway.cli("provider-keys", "disable", "key_laptop", check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert "key_laptop" in double.openai_keys
    gateway.cli("provider-keys", "disable", "key_laptop", "--yes", "--reason", "found on a laptop")
    assert "key_laptop" not in double.openai_keys
    gateway.cli("provider-keys", "disable", "apikey_02laptop", "--yes")
    assert double.anthropic_keys["apikey_02laptop"]["status"] == "inactive"
    # The key the gateway holds is rotated, never disabled; a key it does not know is not found.
    held = gateway.cli("provider-keys", "disable", "key_gateway", "--yes", check=False)
    assert held.returncode != 0 and "rotate it instead" in held.stderr
    assert gateway.cli("provider-keys", "disable", "key_nope", "--yes", check=False).returncode != 0
    audit = [e for e in gateway.cli_json("audit")["data"] if e["action"] == "provider_key.disable"]
    assert {e["target"] for e in audit} == {"key_laptop", "apikey_02laptop"}
    failed = {e["target"] for e in gateway.cli_json("audit")["data"] if e["action"] == "provider_key.disable_failed"}
    assert failed == {"key_gateway", "key_nope"}
    details = [e["details"] if isinstance(e["details"], dict) else json.loads(e["details"]) for e in audit]
    assert any(d.get("reason") == "found on a laptop" and d.get("owner") == "bob@example.com" for d in details), details
    listed = {k["id"]: k for k in gateway.cli_json("provider-keys", "list")["data"]}
    assert listed["apikey_02laptop"]["status"] == "inactive" and listed["apikey_02laptop"]["flags"] == []


def test_a_refused_admin_credential_is_reported_once_and_the_gateway_keeps_serving(gateway_factory, double):
    gateway = start(gateway_factory, double, anthropic_admin="sk-ant-admin01-" + "x" * 80)
    for _ in range(2):
        synced = {s["provider"]: s for s in gateway.cli_json("inventory", "sync")["data"]}
    assert synced["oa"]["status"] == "ok"
    assert synced["an"]["status"] == "refused" and "invalid x-api-key" in synced["an"]["message"]
    # Said once in the log, whatever the number of syncs (the one at start included).
    assert gateway.stderr_text().count("provider an: key list not read") == 1
    assert "x" * 80 not in gateway.stderr_text()
    failed = alerts_of(gateway, "provider_sync_failed")
    assert len(failed) == 1 and failed[0]["details"]["provider"] == "an" and failed[0]["severity"] == "warning"
    key = gateway.create_key("still", "prod")["key"]
    reply = anthropic_client(gateway, key).messages.create(model="inv-claude", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "hi"
