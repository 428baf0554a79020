"""What crosses the gateway besides the happy path: upstream error statuses and headers, query
strings, per-model routes, concurrency, client cancellation, health and unknown routes."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import anthropic
import openai
import pytest

import upstream_double as up
from perimeter_harness import openai_client


def test_rate_limit_passes_through_with_headers_openai(oai, gateway):
    with pytest.raises(openai.RateLimitError) as caught:
        oai.chat.completions.create(model="rate-limited", messages=[{"role": "user", "content": "x"}])
    error = caught.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    headers = error.response.headers
    assert headers["retry-after"] == "7"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert "set-cookie" not in headers
    call = gateway.wait_for_call(headers["x-perimeter-request-id"])
    assert call["outcome"] == "upstream_error"
    assert call["status"] == 429
    assert call["error_code"] == "rate_limit_exceeded"
    assert call["provider"] == "openai"


def test_rate_limit_passes_through_anthropic(ant, gateway):
    with pytest.raises(anthropic.RateLimitError) as caught:
        ant.messages.create(model="rate-limited", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 429
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert caught.value.response.headers["retry-after"] == "7"
    call = gateway.wait_for_call(caught.value.response.headers["x-perimeter-request-id"])
    assert call["status"] == 429 and call["error_code"] == "rate_limit_error"


def test_non_json_upstream_error_passes_through(oai, gateway):
    with pytest.raises(openai.InternalServerError) as caught:
        oai.chat.completions.create(model="broken", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 500
    assert caught.value.response.text == "upstream exploded"
    call = gateway.wait_for_call(caught.value.response.headers["x-perimeter-request-id"])
    assert call["outcome"] == "upstream_error"
    assert call["status"] == 500
    assert call["error_code"] == "upstream_500"


def test_model_retrieve(oai, gateway, upstream, provider_secrets):
    raw = oai.models.with_raw_response.retrieve("gpt-4o-mini")
    assert raw.parse().id == "gpt-4o-mini"
    request = [r for r in upstream.requests if r["path"] == "/v1/models/gpt-4o-mini"][-1]
    assert request["method"] == "GET"
    assert request.header("authorization") == f"Bearer {provider_secrets.openai_key}"
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["operation"] == "models" and call["model"] == "gpt-4o-mini" and call["outcome"] == "ok"
    with pytest.raises(openai.NotFoundError) as caught:
        oai.models.retrieve("unserved-model")
    assert caught.value.code == "model_not_found"


def test_query_string_passes_through(ant, upstream, marker):
    raw = ant.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": f"query {marker}"}],
        extra_query={"beta": "true"},
    )
    assert raw.http_request.url.query == b"beta=true"
    assert raw.parse().content[0].text == up.answer_text(f"query {marker}")
    request = upstream.only(marker)
    assert request["path"] == "/v1/messages"
    assert request["target"] == "/v1/messages?beta=true"


def test_request_body_and_headers_forwarded(oai, upstream, marker):
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"exact {marker} \u00e9\u00e8 \u2603"}],
        temperature=0.25,
        max_tokens=33,
        extra_headers={"x-custom-trace": "trace-123", "OpenAI-Organization": "org-client"},
    )
    sent = json.loads(raw.http_request.content)
    request = upstream.only(marker)
    # A non-streamed body arrives as the client sent it.
    assert request["body"] == sent
    assert request.header("x-custom-trace") == "trace-123"
    # The client may not pick the provider account, nor ask for a compressed body the meter can't read.
    assert request.header("openai-organization") is None
    assert request.header("accept-encoding") == "identity"


def test_concurrent_calls(gateway, vkey, upstream):
    client = openai_client(gateway, vkey["key"])
    prompts = [f"parallel {i} {time.monotonic_ns()}" for i in range(16)]

    def call(prompt: str):
        stream = prompt.startswith("parallel 1")
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=stream
        )
        parsed = raw.parse()
        text = (
            "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
            if stream
            else parsed.choices[0].message.content
        )
        return prompt, text, raw.headers["x-perimeter-request-id"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, prompts))
    assert all(text == up.answer_text(prompt) for prompt, text, _ in results)
    ids = [request_id for _, _, request_id in results]
    assert len(set(ids)) == len(ids)
    for request_id in ids:
        row = gateway.wait_for_call(request_id)
        assert row["outcome"] == "ok"
        assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"]) == (11, 3, 7)


def test_client_cancelling_a_stream(oai, gateway, marker):
    raw = oai.chat.completions.with_raw_response.create(
        model="slow-stream", messages=[{"role": "user", "content": f"cancel {marker} " + "w " * 10}], stream=True
    )
    request_id = raw.headers["x-perimeter-request-id"]
    stream = iter(raw.parse())
    first = next(stream)
    assert first.choices
    raw.http_response.close()
    call = gateway.wait_for_call(request_id, timeout=15)
    assert call["outcome"] == "client_cancelled"
    assert call["stream"] is True
    # The usage chunk never came: the call is charged its input ceiling and what was relayed, never 0.
    assert call["usage_source"] == "estimated"
    assert call["input_tokens"] >= up.CHAT_PROMPT_TOKENS
    assert call["output_tokens"] >= 1


def test_health_routes(gateway):
    status, headers, body = gateway.http("GET", "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert headers["x-perimeter-request-id"].startswith("req_")
    status, _, body = gateway.http("GET", "/readyz")
    assert status == 200
    ready = json.loads(body)
    assert ready["status"] == "ready"
    assert ready["checks"]["database"] == "ok"
    assert ready["checks"]["provider:openai"] == "ok"
    assert ready["checks"]["provider:anthropic"] == "ok"


def test_unknown_route(gateway, vkey):
    status, headers, body = gateway.http("GET", "/v1/nothing-here", headers={"Authorization": f"Bearer {vkey['key']}"})
    assert status == 404
    error = json.loads(body)["error"]
    assert error["code"] == "not_found"
    assert headers["x-perimeter-request-id"].startswith("req_")


def test_admin_api_requires_the_admin_token(gateway, vkey):
    status, headers, _ = gateway.http("GET", "/admin/v1/keys")
    assert status == 401
    assert headers["x-perimeter-request-id"].startswith("req_")
    # A virtual key is not an admin token.
    status, _, body = gateway.http("GET", "/admin/v1/keys", headers={"Authorization": f"Bearer {vkey['key']}"})
    assert status == 401
    assert json.loads(body)["error"]["code"] == "unauthorized"
    status, _, body = gateway.http(
        "GET", "/admin/v1/keys", headers={"Authorization": f"Bearer {gateway.admin_token}"}
    )
    assert status == 200 and any(k["id"] == vkey["id"] for k in json.loads(body)["data"])
