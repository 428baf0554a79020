"""OpenAI SDK through the gateway: chat (plain and streamed), embeddings, models, responses."""

from __future__ import annotations

import base64
import json
import re
import struct

import openai
import pytest

import upstream_double as up
from perimeter_harness import expected_cost_nanos, nanos

GPT_4O_MINI = {"input": 0.15, "output": 0.60, "cached_input": 0.075}
EMBEDDING_3_SMALL = {"input": 0.02, "output": 0}
CHAT_USAGE = {
    "input_tokens": up.CHAT_PROMPT_TOKENS,
    "cached_input_tokens": up.CHAT_CACHED_TOKENS,
    "cache_write_tokens": 0,
    "output_tokens": up.CHAT_COMPLETION_TOKENS,
}


def assert_key_row(call: dict, vkey: dict) -> None:
    assert call["key_id"] == vkey["id"]
    assert call["key_name"] == "e2e-main"
    assert call["env"] == "test"
    assert call["owner"] == "team-e2e"
    assert call["client_ip"] == "127.0.0.1"


def assert_upstream_credentials(request, provider_key: str, vkey: dict) -> None:
    assert request.header("authorization") == f"Bearer {provider_key}"
    assert request.header("x-api-key") is None
    for name, value in request["headers"]:
        assert vkey["key"] not in value, f"virtual key leaked upstream in header {name}"
    assert vkey["key"] not in request["raw"]


def test_chat_completion(oai, gateway, upstream, vkey, provider_secrets, marker):
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"hello {marker}"}],
    )
    completion = raw.parse()
    request_id = raw.headers.get("x-perimeter-request-id")
    assert raw.http_response.status_code == 200
    assert completion.choices[0].message.content == up.answer_text(f"hello {marker}")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == up.CHAT_PROMPT_TOKENS
    assert completion.usage.prompt_tokens_details.cached_tokens == up.CHAT_CACHED_TOKENS

    request = upstream.only(marker)
    assert request["method"] == "POST"
    assert request["path"] == "/v1/chat/completions"
    assert_upstream_credentials(request, provider_secrets.openai_key, vkey)
    assert request["body"]["model"] == "gpt-4o-mini"
    assert request["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert "stream_options" not in request["body"]

    call = gateway.wait_for_call(request_id)
    assert call["id"] == request_id
    assert call["operation"] == "chat"
    assert call["stream"] is False
    assert call["outcome"] == "ok"
    assert call["status"] == 200
    assert call["provider"] == "openai"
    assert call["model"] == "gpt-4o-mini"
    assert call["error_code"] is None
    assert_key_row(call, vkey)
    assert {k: call[k] for k in CHAT_USAGE} == CHAT_USAGE
    assert nanos(call["cost_usd"]) == expected_cost_nanos(CHAT_USAGE, GPT_4O_MINI) == 5625
    assert isinstance(call["latency_ms"], int) and call["latency_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", call["time"]), call["time"]
    # The client's body reaches upstream unchanged.
    assert request["body"] == json.loads(raw.http_request.content)


def test_chat_stream_without_include_usage_hides_the_usage_chunk(oai, gateway, upstream, vkey, provider_secrets, marker):
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"stream {marker}"}], stream=True
    )
    request_id = raw.headers.get("x-perimeter-request-id")
    assert raw.headers.get("content-type", "").startswith("text/event-stream")
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == up.answer_text(f"stream {marker}")
    # Every chunk the client sees has a choice; none carries usage.
    assert chunks, "no chunks"
    assert all(len(c.choices) == 1 for c in chunks), [c.model_dump() for c in chunks if not c.choices]
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"

    request = upstream.only(marker)
    assert request["body"]["stream"] is True
    assert request["body"]["stream_options"]["include_usage"] is True
    assert_upstream_credentials(request, provider_secrets.openai_key, vkey)

    call = gateway.wait_for_call(request_id)
    assert call["operation"] == "chat"
    assert call["stream"] is True
    assert call["outcome"] == "ok"
    assert call["provider"] == "openai"
    assert_key_row(call, vkey)
    assert {k: call[k] for k in CHAT_USAGE} == CHAT_USAGE
    assert nanos(call["cost_usd"]) == expected_cost_nanos(CHAT_USAGE, GPT_4O_MINI)


def test_chat_stream_with_include_usage_keeps_the_usage_chunk(oai, gateway, upstream, marker):
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"usage please {marker}"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    request_id = raw.headers.get("x-perimeter-request-id")
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == up.answer_text(f"usage please {marker}")
    usage_chunks = [c for c in chunks if not c.choices]
    assert len(usage_chunks) == 1
    assert usage_chunks[0] is chunks[-1]
    assert usage_chunks[0].usage.prompt_tokens == up.CHAT_PROMPT_TOKENS
    assert usage_chunks[0].usage.completion_tokens == up.CHAT_COMPLETION_TOKENS
    assert usage_chunks[0].usage.prompt_tokens_details.cached_tokens == up.CHAT_CACHED_TOKENS
    assert all(c.usage is None for c in chunks[:-1])

    assert upstream.only(marker)["body"]["stream_options"] == {"include_usage": True}
    call = gateway.wait_for_call(request_id)
    assert call["outcome"] == "ok" and call["stream"] is True
    assert {k: call[k] for k in CHAT_USAGE} == CHAT_USAGE


def test_chat_stream_with_include_usage_false_keeps_other_stream_options(gateway, upstream, vkey, marker):
    """A client that says include_usage: false gets no usage chunk, and its other options survive."""
    body = (
        '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":false,"x_extra":1},'
        f'"messages":[{{"role":"user","content":"opts {marker}"}}]}}'
    ).encode()
    status, headers, data = gateway.http(
        "POST", "/v1/chat/completions", body,
        {"Authorization": f"Bearer {vkey['key']}", "Content-Type": "application/json"},
    )
    assert status == 200
    text = data.decode()
    assert text.rstrip().endswith("data: [DONE]")
    chunks = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    assert len(chunks) == len(up.answer_pieces(f"opts {marker}")) + 2
    assert all(len(c["choices"]) == 1 for c in chunks)
    assert all(c.get("usage") is None for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == up.answer_text(f"opts {marker}")
    sent = upstream.only(marker)["body"]["stream_options"]
    assert sent == {"include_usage": True, "x_extra": 1}
    call = gateway.wait_for_call(headers["x-perimeter-request-id"])
    assert call["input_tokens"] == up.CHAT_PROMPT_TOKENS and call["output_tokens"] == up.CHAT_COMPLETION_TOKENS


def test_embeddings(oai, gateway, upstream, vkey, provider_secrets, marker):
    raw = oai.embeddings.with_raw_response.create(model="text-embedding-3-small", input=[f"one {marker}", "two"])
    result = raw.parse()
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[0].embedding == pytest.approx([0.25, 0.375, 0.5, 0.625])
    assert result.data[1].embedding == pytest.approx([0.5, 0.625, 0.75, 0.875])
    assert result.usage.prompt_tokens == up.EMBEDDING_TOKENS

    request = upstream.only(marker)
    assert request["path"] == "/v1/embeddings"
    assert request["body"]["input"] == [f"one {marker}", "two"]
    assert_upstream_credentials(request, provider_secrets.openai_key, vkey)

    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["operation"] == "embeddings"
    assert call["outcome"] == "ok"
    assert call["provider"] == "openai"
    assert call["model"] == "text-embedding-3-small"
    usage = {"input_tokens": up.EMBEDDING_TOKENS, "cached_input_tokens": 0, "cache_write_tokens": 0, "output_tokens": 0}
    assert {k: call[k] for k in usage} == usage
    assert nanos(call["cost_usd"]) == expected_cost_nanos(usage, EMBEDDING_3_SMALL) == 160


def test_embeddings_float_format(oai, upstream, marker):
    result = oai.embeddings.create(model="text-embedding-3-small", input=f"float {marker}", encoding_format="float")
    assert result.data[0].embedding == pytest.approx([0.25, 0.375, 0.5, 0.625])
    assert upstream.only(marker)["body"]["encoding_format"] == "float"


def test_models_list(oai, gateway, upstream, provider_secrets):
    raw = oai.models.with_raw_response.list()
    models = [m.id for m in raw.parse()]
    assert models == up.UPSTREAM_MODELS
    request = [r for r in upstream.requests if r["path"] == "/v1/models"][-1]
    assert request["method"] == "GET"
    assert request.header("authorization") == f"Bearer {provider_secrets.openai_key}"
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["operation"] == "models"
    assert call["outcome"] == "ok"
    assert call["status"] == 200
    assert call["input_tokens"] == 0 and call["output_tokens"] == 0


def test_responses(oai, gateway, upstream, marker):
    raw = oai.responses.with_raw_response.create(model="gpt-4o-mini", input=f"respond {marker}")
    response = raw.parse()
    assert response.output_text == up.answer_text(f"respond {marker}")
    assert upstream.only(marker)["path"] == "/v1/responses"
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["operation"] == "responses"
    assert call["outcome"] == "ok"
    usage = {
        "input_tokens": up.RESPONSES_INPUT_TOKENS,
        "cached_input_tokens": up.RESPONSES_CACHED_TOKENS,
        "cache_write_tokens": 0,
        "output_tokens": up.RESPONSES_OUTPUT_TOKENS,
    }
    assert {k: call[k] for k in usage} == usage
    assert nanos(call["cost_usd"]) == expected_cost_nanos(usage, GPT_4O_MINI)


def test_responses_stream(oai, gateway, upstream, marker):
    raw = oai.responses.with_raw_response.create(model="gpt-4o-mini", input=f"respond stream {marker}", stream=True)
    events = list(raw.parse())
    assert [e.type for e in events] == ["response.created", "response.output_text.delta", "response.completed"]
    assert events[1].delta == up.answer_text(f"respond stream {marker}")
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["operation"] == "responses" and call["stream"] is True and call["outcome"] == "ok"
    assert call["input_tokens"] == up.RESPONSES_INPUT_TOKENS
    assert call["cached_input_tokens"] == up.RESPONSES_CACHED_TOKENS
    assert call["output_tokens"] == up.RESPONSES_OUTPUT_TOKENS


def test_virtual_key_in_x_api_key_header_works_on_openai_routes(gateway, upstream, vkey, provider_secrets, marker):
    body = f'{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"xkey {marker}"}}]}}'.encode()
    status, headers, data = gateway.http(
        "POST", "/v1/chat/completions", body, {"x-api-key": vkey["key"], "Content-Type": "application/json"}
    )
    assert status == 200, data
    assert headers["x-perimeter-request-id"].startswith("req_")
    request = upstream.only(marker)
    assert request.header("authorization") == f"Bearer {provider_secrets.openai_key}"
    assert request.header("x-api-key") is None


def test_base64_embedding_decoding_matches_double():
    """Guards the double itself: its base64 vectors decode to the float ones."""
    vector = [0.25, 0.375, 0.5, 0.625]
    packed = base64.b64encode(struct.pack("<4f", *vector))
    assert list(struct.unpack("<4f", base64.b64decode(packed))) == vector


def test_sdk_error_type_for_unknown_model(oai):
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    assert caught.value.type == "invalid_request_error"
    assert "no-such-model" in caught.value.message


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("gpt-4o-mini-2024-07-18", GPT_4O_MINI),
        ("gpt-4o-2024-08-06", {"input": 2.5, "output": 10, "cached_input": 1.25}),
        ("gpt-4.1-mini", {"input": 0.40, "output": 1.60, "cached_input": 0.10}),
    ],
)
def test_dated_and_other_models_are_priced(oai, gateway, model, price):
    raw = oai.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": "price"}])
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["model"] == model
    assert nanos(call["cost_usd"]) == expected_cost_nanos(CHAT_USAGE, price)


def test_unpriced_model(oai, gateway):
    raw = oai.chat.completions.with_raw_response.create(model="gpt-zz-experimental", messages=[{"role": "user", "content": "?"}])
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["outcome"] == "ok"
    assert call["input_tokens"] == up.CHAT_PROMPT_TOKENS
    assert call["cost_usd"] is None
