"""Anthropic SDK through the gateway: messages (plain and streamed), token counting."""

from __future__ import annotations

import anthropic
import pytest

import upstream_double as up
from perimeter_harness import anthropic_client, expected_cost_nanos, nanos

CLAUDE_SONNET_4_5 = {"input": 3, "output": 15, "cached_input": 0.30, "cache_write": 3.75}
# Anthropic usage is normalised: input = input + cache read + cache creation; cached = cache read.
MESSAGES_USAGE = {
    "input_tokens": up.MESSAGES_INPUT_TOKENS + up.MESSAGES_CACHE_READ_TOKENS + up.MESSAGES_CACHE_CREATION_TOKENS,
    "cached_input_tokens": up.MESSAGES_CACHE_READ_TOKENS,
    "cache_write_tokens": up.MESSAGES_CACHE_CREATION_TOKENS,
    "output_tokens": up.MESSAGES_OUTPUT_TOKENS,
}


def assert_upstream_credentials(request, provider_key: str, vkey: dict, sent_headers) -> None:
    assert request.header("x-api-key") == provider_key
    assert request.header("authorization") is None
    # anthropic-version passes through exactly as the SDK sent it.
    assert sent_headers["anthropic-version"]
    assert request.header("anthropic-version") == sent_headers["anthropic-version"]
    for name, value in request["headers"]:
        assert vkey["key"] not in value, f"virtual key leaked upstream in header {name}"
    assert vkey["key"] not in request["raw"]


def assert_messages_call(call: dict, vkey: dict, *, stream: bool) -> None:
    assert call["operation"] == "messages"
    assert call["stream"] is stream
    assert call["outcome"] == "ok"
    assert call["status"] == 200
    assert call["provider"] == "anthropic"
    assert call["model"] == "claude-sonnet-4-5"
    assert call["key_id"] == vkey["id"]
    assert call["key_name"] == "e2e-main"
    assert call["env"] == "test"
    assert call["owner"] == "team-e2e"
    assert call["error_code"] is None
    assert {k: call[k] for k in MESSAGES_USAGE} == MESSAGES_USAGE
    assert nanos(call["cost_usd"]) == expected_cost_nanos(MESSAGES_USAGE, CLAUDE_SONNET_4_5) == 183000


def test_messages(ant, gateway, upstream, vkey, provider_secrets, marker):
    raw = ant.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": f"hi {marker}"}]
    )
    message = raw.parse()
    assert message.content[0].text == up.answer_text(f"hi {marker}")
    assert message.usage.input_tokens == up.MESSAGES_INPUT_TOKENS
    assert message.usage.cache_read_input_tokens == up.MESSAGES_CACHE_READ_TOKENS

    request = upstream.only(marker)
    assert request["path"] == "/v1/messages"
    assert request["body"]["max_tokens"] == 64
    assert "stream" not in request["body"] or request["body"]["stream"] is False
    assert_upstream_credentials(request, provider_secrets.anthropic_key, vkey, raw.http_request.headers)

    request_id = raw.headers["x-perimeter-request-id"]
    call = gateway.wait_for_call(request_id)
    assert call["id"] == request_id
    assert_messages_call(call, vkey, stream=False)


def test_messages_stream_helper(ant, gateway, upstream, vkey, provider_secrets, marker):
    with ant.messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": f"stream {marker}"}]
    ) as stream:
        request_id = stream.response.headers["x-perimeter-request-id"]
        sent_headers = stream.response.request.headers
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == up.answer_text(f"stream {marker}")
    assert pieces == up.answer_pieces(f"stream {marker}")
    assert final.content[0].text == up.answer_text(f"stream {marker}")
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == up.MESSAGES_OUTPUT_TOKENS

    request = upstream.only(marker)
    assert request["body"]["stream"] is True
    assert_upstream_credentials(request, provider_secrets.anthropic_key, vkey, sent_headers)

    assert_messages_call(gateway.wait_for_call(request_id), vkey, stream=True)


def test_messages_stream_raw_events(ant, gateway, marker):
    raw = ant.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=64, stream=True, messages=[{"role": "user", "content": f"raw {marker}"}]
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = list(raw.parse())
    types = [e.type for e in events]
    pieces = up.answer_pieces(f"raw {marker}")
    assert types == (
        ["message_start", "content_block_start"]
        + ["content_block_delta"] * len(pieces)
        + ["content_block_stop", "message_delta", "message_stop"]
    )
    assert events[0].message.usage.input_tokens == up.MESSAGES_INPUT_TOKENS
    assert events[-2].usage.output_tokens == up.MESSAGES_OUTPUT_TOKENS
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    # The output count is message_delta's cumulative value, not message_start's 1 added to it.
    assert call["output_tokens"] == up.MESSAGES_OUTPUT_TOKENS
    assert call["input_tokens"] == MESSAGES_USAGE["input_tokens"]


def test_anthropic_headers_pass_through(ant, upstream, marker):
    ant.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=8,
        messages=[{"role": "user", "content": f"headers {marker}"}],
        extra_headers={"anthropic-version": "2023-06-01", "anthropic-beta": "prompt-caching-2024-07-31"},
    )
    request = upstream.only(marker)
    assert request.header("anthropic-version") == "2023-06-01"
    assert request.header("anthropic-beta") == "prompt-caching-2024-07-31"


def test_anthropic_sdk_with_bearer_auth_token(gateway, upstream, vkey, provider_secrets, marker):
    """The Anthropic SDK's auth_token sends the virtual key as Authorization: Bearer."""
    client = anthropic_client(gateway, None, auth_token=vkey["key"])
    message = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": f"bearer {marker}"}]
    )
    assert message.content[0].text == up.answer_text(f"bearer {marker}")
    request = upstream.only(marker)
    assert request.header("x-api-key") == provider_secrets.anthropic_key
    assert request.header("authorization") is None


def test_count_tokens(ant, gateway, upstream, provider_secrets, marker):
    raw = ant.messages.with_raw_response.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": f"count {marker}"}]
    )
    assert raw.parse().input_tokens == up.COUNT_TOKENS
    request = upstream.only(marker)
    assert request["path"] == "/v1/messages/count_tokens"
    assert request.header("x-api-key") == provider_secrets.anthropic_key
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["operation"] == "count_tokens"
    assert call["outcome"] == "ok"
    assert call["provider"] == "anthropic"
    # Counting tokens consumes none.
    assert call["input_tokens"] == 0 and call["output_tokens"] == 0
    assert call["cost_usd"] == 0


def test_unknown_model(ant, gateway):
    with pytest.raises(anthropic.NotFoundError) as caught:
        ant.messages.create(model="nonexistent-model", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    error = caught.value
    assert error.status_code == 404
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == "not_found_error"
    assert "nonexistent-model" in error.body["error"]["message"]
    call = gateway.wait_for_call(error.response.headers["x-perimeter-request-id"])
    assert call["outcome"] == "denied"
    assert call["status"] == 404
    assert call["error_code"] == "model_not_found"
    assert call["model"] == "nonexistent-model"
