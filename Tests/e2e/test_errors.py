"""Failures: broken upstream streams, error mapping and pass-through, redaction, limits, timeouts."""

from __future__ import annotations

import http.client
import json
import time

import anthropic
import openai
import pytest

import upstream_double as up
from perimeter_harness import expected_cost_nanos, nanos

CUT_PRICE = {"input": 1, "output": 2, "cached_input": 0.1, "cache_write": 1.25}


def openai_error_shape(data: bytes) -> dict:
    body = json.loads(data)
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["param"] is None
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def anthropic_error_shape(data: bytes) -> dict:
    body = json.loads(data)
    assert set(body) == {"type", "error"}, body
    assert body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


# MARK: cut streams


def assert_transport_failure(error: BaseException) -> None:
    """The Anthropic SDK lets its HTTP library's error through: a protocol error about the body the
    gateway never finished (it breaks the client's connection when upstream broke)."""
    if isinstance(error, anthropic.APIConnectionError):
        return
    names = [cls.__name__ for cls in type(error).__mro__]
    assert "RemoteProtocolError" in names, repr(error)
    assert "incomplete chunked read" in str(error), repr(error)


def test_cut_stream_openai(oai, gateway, upstream, marker):
    raw = oai.chat.completions.with_raw_response.create(
        model="cut-stream", messages=[{"role": "user", "content": f"cut {marker}"}], stream=True
    )
    request_id = raw.headers["x-perimeter-request-id"]
    received = []
    with pytest.raises(Exception) as caught:
        for chunk in raw.parse():
            if chunk.choices:
                received.append(chunk.choices[0].delta.content or "")
    # The SDK does not take the cut for a complete answer: it raises a connection error.
    assert isinstance(caught.value, openai.APIConnectionError), repr(caught.value)
    text = "".join(received)
    assert "".join(up.CUT_PIECES).startswith(text)
    assert upstream.only(marker)["body"]["stream_options"] == {"include_usage": True}

    call = gateway.wait_for_call(request_id)
    assert call["outcome"] == "stream_cut"
    assert call["error_code"] == "stream_cut"
    assert call["status"] == 200
    assert call["stream"] is True
    assert call["provider"] == "openai"
    # OpenAI reports usage only in the last chunk, which never came: the call is charged an estimate
    # that is never below what the provider bills, the request's input ceiling and at least a token per
    # relayed delta ("Partial", " answer", " before", " the" are 2, 2, 2 and 1 by four-byte pieces).
    assert call["usage_source"] == "estimated"
    assert call["input_tokens"] >= up.CHAT_PROMPT_TOKENS
    relayed = [piece for piece in received if piece]
    assert len(relayed) <= call["output_tokens"] <= 7
    usage = {k: call[k] for k in ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")}
    assert nanos(call["cost_usd"]) == expected_cost_nanos(usage, CUT_PRICE) > 0


def test_cut_stream_anthropic(ant, gateway, upstream, marker):
    raw = ant.messages.with_raw_response.create(
        model="cut-stream", max_tokens=32, stream=True, messages=[{"role": "user", "content": f"cut {marker}"}]
    )
    request_id = raw.headers["x-perimeter-request-id"]
    events = []
    with pytest.raises(Exception) as caught:
        for event in raw.parse():
            events.append(event)
    assert_transport_failure(caught.value)
    types = [e.type for e in events]
    assert "message_stop" not in types
    assert "message_delta" not in types
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert "".join(up.CUT_PIECES).startswith(text)
    upstream.only(marker)

    call = gateway.wait_for_call(request_id)
    assert call["outcome"] == "stream_cut"
    assert call["error_code"] == "stream_cut"
    assert call["stream"] is True
    assert call["provider"] == "anthropic"
    # message_start told the input tokens (and a placeholder output of 1); the deltas relayed after it
    # are charged as output, at least a token each, since the final message_delta never came.
    relayed = [e.delta.text for e in events if e.type == "content_block_delta" and e.delta.text]
    counted = sum((len(p.encode()) + 3) // 4 for p in relayed)
    usage = {
        "input_tokens": up.MESSAGES_INPUT_TOKENS + up.MESSAGES_CACHE_READ_TOKENS + up.MESSAGES_CACHE_CREATION_TOKENS,
        "cached_input_tokens": up.MESSAGES_CACHE_READ_TOKENS,
        "cache_write_tokens": up.MESSAGES_CACHE_CREATION_TOKENS,
        "output_tokens": max(1, counted),
    }
    assert {k: call[k] for k in usage} == usage
    assert call["usage_source"] == "estimated"
    assert nanos(call["cost_usd"]) == expected_cost_nanos(usage, CUT_PRICE) >= 18000


def test_cut_stream_anthropic_helper(ant, gateway, marker):
    """The SDK's stream helper also reports the cut instead of returning a short final message."""
    with pytest.raises(Exception) as caught:
        with ant.messages.stream(
            model="cut-stream", max_tokens=32, messages=[{"role": "user", "content": f"cut helper {marker}"}]
        ) as stream:
            request_id = stream.response.headers["x-perimeter-request-id"]
            "".join(stream.text_stream)
    assert_transport_failure(caught.value)
    assert gateway.wait_for_call(request_id)["outcome"] == "stream_cut"


# MARK: gateway errors in each route family's shape


def post(gateway, path: str, body: bytes, key: str, *, header: str = "authorization"):
    headers = {"Content-Type": "application/json"}
    headers.update({"Authorization": f"Bearer {key}"} if header == "authorization" else {"x-api-key": key})
    return gateway.http("POST", path, body, headers)


def test_malformed_json_openai_shape(gateway, vkey, upstream):
    before = len(upstream.requests)
    status, headers, data = post(gateway, "/v1/chat/completions", b'{"model": "gpt-4o-mini", "messages": [', vkey["key"])
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    error = openai_error_shape(data)
    assert error["code"] == "invalid_json"
    assert error["type"] == "invalid_request_error"
    assert len(upstream.requests) == before
    call = gateway.wait_for_call(headers["x-perimeter-request-id"])
    assert call["outcome"] == "denied" and call["status"] == 400 and call["error_code"] == "invalid_json"
    assert call["key_id"] == vkey["id"]


def test_malformed_json_anthropic_shape(gateway, vkey, upstream):
    before = len(upstream.requests)
    status, headers, data = post(gateway, "/v1/messages", b"{not json}", vkey["key"], header="x-api-key")
    assert status == 400
    error = anthropic_error_shape(data)
    assert error["type"] == "invalid_request_error"
    assert "JSON" in error["message"]
    assert len(upstream.requests) == before
    call = gateway.wait_for_call(headers["x-perimeter-request-id"])
    assert call["error_code"] == "invalid_json"
    assert call["operation"] == "messages"


@pytest.mark.parametrize(("path", "shape"), [("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic")])
def test_missing_model(gateway, vkey, path, shape):
    status, headers, data = post(gateway, path, b'{"messages": [{"role": "user", "content": "hi"}]}', vkey["key"])
    assert status == 400
    if shape == "openai":
        assert openai_error_shape(data)["code"] == "missing_model"
    else:
        assert anthropic_error_shape(data)["type"] == "invalid_request_error"
    assert gateway.wait_for_call(headers["x-perimeter-request-id"])["error_code"] == "missing_model"


def test_unknown_model_openai(oai, gateway, upstream):
    before = len(upstream.requests)
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="llama-3-70b", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    assert "llama-3-70b" in caught.value.message
    assert len(upstream.requests) == before
    call = gateway.wait_for_call(caught.value.response.headers["x-perimeter-request-id"])
    assert call["outcome"] == "denied"
    assert call["status"] == 404
    assert call["error_code"] == "model_not_found"
    assert call["provider"] is None


def test_claude_model_on_openai_route_is_not_routed_to_anthropic(oai, upstream):
    """Routing goes by route family: an OpenAI-format call never reaches an Anthropic-kind provider."""
    before = len(upstream.requests)
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "model_not_found"
    assert len(upstream.requests) == before


# MARK: upstream errors pass through, redacted


def test_leaky_upstream_error_is_redacted_openai(oai, gateway, upstream, provider_secrets, marker):
    with pytest.raises(openai.AuthenticationError) as caught:
        oai.chat.completions.create(model="leaky-error", messages=[{"role": "user", "content": f"leak {marker}"}])
    error = caught.value
    # The double did put the provider key in its message...
    assert upstream.only(marker).header("authorization") == f"Bearer {provider_secrets.openai_key}"
    # ...and the client gets the upstream's status and body, minus the key.
    assert error.status_code == 401
    body = error.response.text
    assert provider_secrets.openai_key not in body
    assert provider_secrets.openai_key[8:24] not in body
    assert "[redacted]" in body
    parsed = json.loads(body)
    assert parsed["error"]["message"].startswith("Incorrect API key provided: [redacted].")
    assert parsed["error"]["code"] == "invalid_api_key"
    assert error.code == "invalid_api_key"

    call = gateway.wait_for_call(error.response.headers["x-perimeter-request-id"])
    assert call["outcome"] == "upstream_error"
    assert call["status"] == 401
    assert call["provider"] == "openai"
    assert call["error_code"] == "invalid_api_key"


def test_leaky_upstream_error_is_redacted_anthropic(ant, gateway, upstream, provider_secrets, marker):
    with pytest.raises(anthropic.AuthenticationError) as caught:
        ant.messages.create(model="leaky-error", max_tokens=8, messages=[{"role": "user", "content": f"leak {marker}"}])
    error = caught.value
    assert upstream.only(marker).header("x-api-key") == provider_secrets.anthropic_key
    assert error.status_code == 401
    body = error.response.text
    assert provider_secrets.anthropic_key not in body
    assert "[redacted]" in body
    assert json.loads(body) == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key: [redacted] is not valid"},
    }
    call = gateway.wait_for_call(error.response.headers["x-perimeter-request-id"])
    assert call["outcome"] == "upstream_error"
    assert call["status"] == 401
    assert call["provider"] == "anthropic"


def test_leaky_upstream_error_on_a_streamed_call(gateway, vkey, provider_secrets, marker):
    body = json.dumps({"model": "leaky-error", "stream": True, "messages": [{"role": "user", "content": marker}]})
    status, headers, data = post(gateway, "/v1/chat/completions", body.encode(), vkey["key"])
    assert status == 401
    assert provider_secrets.openai_key.encode() not in data
    assert b"[redacted]" in data


# MARK: upstream unavailable


def test_slow_upstream_times_out_openai(oai, gateway, marker):
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        oai.chat.completions.create(model="slow", messages=[{"role": "user", "content": f"slow {marker}"}])
    elapsed = time.monotonic() - started
    assert caught.value.status_code == 504
    assert caught.value.code == "upstream_timeout"
    assert caught.value.type == "api_error"
    # upstream_timeout is 2 s; the double would have answered after 4.
    assert 1.5 < elapsed < up.SLOW_SECONDS
    call = gateway.wait_for_call(caught.value.response.headers["x-perimeter-request-id"])
    assert call["outcome"] == "upstream_error"
    assert call["status"] == 504
    assert call["error_code"] == "upstream_timeout"
    assert call["provider"] == "openai"


def test_slow_upstream_times_out_anthropic(gateway, vkey, marker):
    body = json.dumps({"model": "slow", "max_tokens": 8, "messages": [{"role": "user", "content": marker}]})
    status, headers, data = post(gateway, "/v1/messages", body.encode(), vkey["key"], header="x-api-key")
    assert status == 504
    assert anthropic_error_shape(data)["type"] == "api_error"
    assert gateway.wait_for_call(headers["x-perimeter-request-id"])["error_code"] == "upstream_timeout"


def test_unreachable_upstream_openai(oai, gateway):
    with pytest.raises(openai.APIStatusError) as caught:
        oai.chat.completions.create(model="dead-model", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_unreachable"
    assert "dead-openai" in caught.value.message
    call = gateway.wait_for_call(caught.value.response.headers["x-perimeter-request-id"])
    assert call["outcome"] == "upstream_error"
    assert call["status"] == 502
    assert call["provider"] == "dead-openai"
    assert call["error_code"] == "upstream_unreachable"


def test_unreachable_upstream_fails_fast(gateway, vkey):
    """A refused connection is known at once: the 502 should not wait for upstream_timeout (2 s here,
    600 s by default), which is meant for a provider that is slow to answer, not one that is down."""
    body = json.dumps({"model": "dead-model", "messages": [{"role": "user", "content": "hi"}]}).encode()
    started = time.monotonic()
    status, _, data = post(gateway, "/v1/chat/completions", body, vkey["key"])
    elapsed = time.monotonic() - started
    assert status == 502 and openai_error_shape(data)["code"] == "upstream_unreachable"
    assert elapsed < 1.0, f"502 upstream_unreachable took {elapsed:.2f}s for a refused connection"


def test_unreachable_upstream_anthropic(ant, gateway):
    with pytest.raises(anthropic.APIStatusError) as caught:
        ant.messages.create(model="dead-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "api_error"
    assert "dead-anthropic" in caught.value.body["error"]["message"]


# MARK: body size


def _raw_post(gateway, path: str, headers: dict, chunks, *, chunked: bool):
    """POSTs with http.client, tolerating a gateway that answers before reading the whole body."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        connection.putrequest("POST", path)
        for name, value in headers.items():
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        else:
            connection.putheader("Content-Length", str(sum(len(c) for c in chunks)))
        connection.endheaders()
        try:
            for chunk in chunks:
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if chunked:
                connection.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway refused the rest; its answer is already on the way
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def big_body(model: str, size: int) -> bytes:
    return json.dumps({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "x" * size}]}).encode()


def test_body_over_limit_with_content_length_openai(gateway, vkey, upstream):
    before = len(upstream.requests)
    body = big_body("gpt-4o-mini", 100_000)  # max_body_bytes is 65536
    status, headers, data = _raw_post(
        gateway, "/v1/chat/completions",
        {"Authorization": f"Bearer {vkey['key']}", "Content-Type": "application/json"},
        [body[i:i + 16384] for i in range(0, len(body), 16384)], chunked=False,
    )
    assert status == 413
    assert openai_error_shape(data)["code"] == "request_too_large"
    assert len(upstream.requests) == before
    call = gateway.wait_for_call(headers["x-perimeter-request-id"])
    assert call["status"] == 413 and call["error_code"] == "request_too_large" and call["outcome"] == "denied"


def test_body_over_limit_chunked_anthropic(gateway, vkey, upstream):
    before = len(upstream.requests)
    body = big_body("claude-sonnet-4-5", 100_000)
    status, headers, data = _raw_post(
        gateway, "/v1/messages",
        {"x-api-key": vkey["key"], "Content-Type": "application/json", "anthropic-version": "2023-06-01"},
        [body[i:i + 8192] for i in range(0, len(body), 8192)], chunked=True,
    )
    assert status == 413
    assert anthropic_error_shape(data)["type"] == "request_too_large"
    assert len(upstream.requests) == before
    assert gateway.wait_for_call(headers["x-perimeter-request-id"])["error_code"] == "request_too_large"


def test_chunked_upload_under_limit_is_accepted(gateway, vkey, upstream, marker):
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"chunked {marker}"}]}).encode()
    status, headers, data = _raw_post(
        gateway, "/v1/chat/completions",
        {"Authorization": f"Bearer {vkey['key']}", "Content-Type": "application/json"},
        [body[i:i + 10] for i in range(0, len(body), 10)], chunked=True,
    )
    assert status == 200, data
    assert json.loads(data)["choices"][0]["message"]["content"] == up.answer_text(f"chunked {marker}")
    assert upstream.only(marker)["body"] == json.loads(body)


def test_body_just_under_limit_is_accepted(oai, upstream, marker):
    # A little under 64 KiB of JSON in all: accepted and forwarded whole.
    content = f"{marker} " + "y" * 60_000
    result = oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])
    assert result.choices[0].message.content == up.answer_text(content)
    assert upstream.only(marker)["body"]["messages"][0]["content"] == content


def test_oversized_body_via_sdk(oai, upstream):
    before = len(upstream.requests)
    with pytest.raises(openai.APIStatusError) as caught:
        oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "z" * 150_000}])
    assert caught.value.status_code == 413
    assert caught.value.code == "request_too_large"
    assert "65536" in caught.value.message
    assert len(upstream.requests) == before
