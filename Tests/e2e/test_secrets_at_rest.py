"""No secret ends up on disk or in the logs: virtual keys (only their hashes are kept), provider keys
and the admin token are searched for in the SQLite files and in the gateway's stdout and stderr."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from perimeter_harness import anthropic_client, openai_client


def database_files(gw) -> list:
    files = [gw.database.with_name(gw.database.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    return [f for f in files if f.exists()]


def secret_needles(keys: list[dict], provider_secrets, admin_token: str) -> dict[str, bytes]:
    needles = {}
    for key in keys:
        plaintext = key["key"]
        needles[f"virtual key {key['id']}"] = plaintext.encode()
        # The part of the key that is never shown again: everything after its displayable prefix.
        assert plaintext.startswith(key["prefix"])
        needles[f"secret part of {key['id']}"] = plaintext[len(key["prefix"]):].encode()
    needles["OpenAI provider key"] = provider_secrets.openai_key.encode()
    needles["Anthropic provider key"] = provider_secrets.anthropic_key.encode()
    needles["OpenAI provider key (random part)"] = provider_secrets.openai_key.split("-")[-1].encode()
    needles["Anthropic provider key (random part)"] = provider_secrets.anthropic_key.split("-")[-1].encode()
    needles["Gemini provider key"] = provider_secrets.gemini_key.encode()
    needles["Gemini provider key (random part)"] = provider_secrets.gemini_key.split("-")[-1].encode()
    needles["admin token"] = admin_token.encode()
    return needles


def assert_no_secrets(paths, needles: dict[str, bytes]) -> None:
    leaks = []
    for path in paths:
        data = path.read_bytes()
        for label, needle in needles.items():
            if needle in data:
                leaks.append(f"{label} found in {path.name}")
    assert not leaks, "\n".join(leaks)


def exercise(gw, keys: list[dict], provider_secrets) -> list[str]:
    """Every kind of call, successful and not; returns their request ids."""
    ids = []
    oai = openai_client(gw, keys[0]["key"])
    ant = anthropic_client(gw, keys[1]["key"])
    raw = oai.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "a"}])
    ids.append(raw.headers["x-perimeter-request-id"])
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "b"}], stream=True
    )
    list(raw.parse())
    ids.append(raw.headers["x-perimeter-request-id"])
    raw = oai.embeddings.with_raw_response.create(model="text-embedding-3-small", input="c")
    ids.append(raw.headers["x-perimeter-request-id"])
    raw = ant.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "d"}]
    )
    ids.append(raw.headers["x-perimeter-request-id"])
    with ant.messages.stream(model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "e"}]) as s:
        "".join(s.text_stream)
        ids.append(s.response.headers["x-perimeter-request-id"])
    # Upstream errors that carry the provider key.
    with pytest.raises(openai.AuthenticationError) as caught:
        oai.chat.completions.create(model="leaky-error", messages=[{"role": "user", "content": "f"}])
    ids.append(caught.value.response.headers["x-perimeter-request-id"])
    with pytest.raises(anthropic.AuthenticationError) as caught:
        ant.messages.create(model="leaky-error", max_tokens=8, messages=[{"role": "user", "content": "g"}])
    ids.append(caught.value.response.headers["x-perimeter-request-id"])
    # A cut stream, an unreachable provider, a malformed body.
    with pytest.raises(openai.APIConnectionError):
        list(oai.chat.completions.create(model="cut-stream", messages=[{"role": "user", "content": "h"}], stream=True))
    with pytest.raises(openai.APIStatusError):
        oai.chat.completions.create(model="dead-model", messages=[{"role": "user", "content": "i"}])
    status, headers, _ = gw.http(
        "POST", "/v1/chat/completions", b"{oops", {"Authorization": f"Bearer {keys[0]['key']}"}
    )
    assert status == 400
    ids.append(headers["x-perimeter-request-id"])
    # The revoked key and an unknown one, presented in both header styles.
    gw.cli("keys", "revoke", keys[2]["id"])
    for header in ({"Authorization": f"Bearer {keys[2]['key']}"}, {"x-api-key": keys[2]["key"]}):
        body = json.dumps({"model": "gpt-4o-mini", "messages": []}).encode()
        assert gw.http("POST", "/v1/chat/completions", body, header)[0] == 401
    return ids


def test_no_secret_at_rest_or_in_logs(gateway_factory, provider_secrets):
    gw = gateway_factory("secrets", extra_env={"PERIMETER_LOG_LEVEL": "debug"})
    keys = [gw.create_key(f"secret-{i}", env, owner="sec") for i, env in enumerate(["prod", "staging", "dev"])]
    ids = exercise(gw, keys, provider_secrets)
    for request_id in ids:
        gw.wait_for_call(request_id)
    needles = secret_needles(keys, provider_secrets, gw.admin_token)

    # While running (the WAL holds the recent writes).
    files = database_files(gw)
    assert gw.database in files
    assert_no_secrets(files + [gw.stdout_path, gw.stderr_path], needles)

    # The admin API never shows a plaintext again either.
    for key in keys:
        shown = gw.cli("keys", "show", key["id"], "--json").stdout
        assert key["key"] not in shown
    listed = gw.cli("keys", "list", "--json").stdout
    calls = gw.cli("calls", "--json").stdout
    for needle in needles.values():
        assert needle.decode() not in listed
        assert needle.decode() not in calls

    # And after a clean stop, with everything flushed.
    assert gw.stop() == 0
    files = database_files(gw)
    assert_no_secrets(files + [gw.stdout_path, gw.stderr_path], needles)
    assert sum(f.stat().st_size for f in files) > 0


def test_needles_are_found_when_present(tmp_path, provider_secrets):
    """Guards the search itself: a file holding a secret is reported."""
    path = tmp_path / "leaky.db"
    path.write_bytes(b"\x00\x01" + provider_secrets.anthropic_key.encode() + b"\x00")
    needles = {"Anthropic provider key": provider_secrets.anthropic_key.encode()}
    with pytest.raises(AssertionError, match="Anthropic provider key found in leaky.db"):
        assert_no_secrets([path], needles)
