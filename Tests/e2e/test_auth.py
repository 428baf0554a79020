"""Virtual keys at the door: revoked, unknown and missing keys, with both SDKs."""

from __future__ import annotations

import json
import secrets

import anthropic
import openai
import pytest

import upstream_double as up
from perimeter_harness import anthropic_client, openai_client


def test_revoked_key_is_refused_by_both_sdks(gateway, upstream, marker):
    key = gateway.create_key("to-revoke", "test", owner="team-e2e")
    oai = openai_client(gateway, key["key"])
    ant = anthropic_client(gateway, key["key"])

    # The key works before it is revoked.
    assert oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"before {marker}"}]
    ).choices[0].message.content == up.answer_text(f"before {marker}")

    revoked = gateway.cli_json("keys", "revoke", key["id"])
    assert revoked["id"] == key["id"]
    assert revoked["status"] == "revoked"
    upstream_count = len(upstream.requests)

    with pytest.raises(openai.AuthenticationError) as caught:
        oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"after {marker}"}])
    error = caught.value
    assert error.status_code == 401
    assert error.code == "key_revoked"
    assert error.type == "invalid_request_error"
    assert "revoked" in error.message
    request_id = error.response.headers["x-perimeter-request-id"]

    with pytest.raises(anthropic.AuthenticationError) as caught_ant:
        ant.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": marker}])
    assert caught_ant.value.status_code == 401
    assert caught_ant.value.body["type"] == "error"
    assert caught_ant.value.body["error"]["type"] == "authentication_error"
    assert "revoked" in caught_ant.value.body["error"]["message"]

    # Neither refused call reached upstream.
    assert len(upstream.requests) == upstream_count
    assert upstream.find(f"after {marker}") == []

    call = gateway.wait_for_call(request_id)
    assert call["outcome"] == "denied"
    assert call["status"] == 401
    assert call["error_code"] == "key_revoked"
    assert call["input_tokens"] == 0 and call["output_tokens"] == 0


def unknown_key() -> str:
    return "prm_test_" + secrets.token_hex(19)


def test_unknown_key_openai(gateway, upstream, marker):
    client = openai_client(gateway, unknown_key())
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": marker}])
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert upstream.find(marker) == []
    call = gateway.wait_for_call(caught.value.response.headers["x-perimeter-request-id"])
    assert call["outcome"] == "denied"
    assert call["error_code"] == "invalid_api_key"
    assert call["key_id"] is None


def test_unknown_key_anthropic(gateway, upstream, marker):
    client = anthropic_client(gateway, unknown_key())
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": marker}])
    assert caught.value.status_code == 401
    assert caught.value.body["error"]["type"] == "authentication_error"
    assert upstream.find(marker) == []


def test_provider_key_is_not_a_virtual_key(gateway, provider_secrets, upstream, marker):
    """Presenting the upstream provider's own key to the gateway gets nowhere."""
    client = openai_client(gateway, provider_secrets.openai_key)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": marker}])
    assert caught.value.code == "invalid_api_key"
    assert upstream.find(marker) == []


@pytest.mark.parametrize(
    ("path", "shape"), [("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic")]
)
def test_missing_key(gateway, path, shape, marker):
    body = json.dumps({"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": marker}]})
    status, headers, data = gateway.http("POST", path, body.encode(), {"Content-Type": "application/json"})
    assert status == 401
    error = json.loads(data)
    if shape == "openai":
        assert set(error) == {"error"}
        assert set(error["error"]) == {"message", "type", "param", "code"}
        assert error["error"]["code"] == "invalid_api_key"
    else:
        assert error["type"] == "error"
        assert error["error"]["type"] == "authentication_error"
        assert set(error["error"]) == {"type", "message"}
    assert headers["x-perimeter-request-id"].startswith("req_")
