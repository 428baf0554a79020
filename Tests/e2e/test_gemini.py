"""Google's google-genai SDK through the gateway: generateContent (plain, SSE and JSON-array streams),
countTokens, embeddings, models; the virtual key in x-goog-api-key or ?key=; model and tool limits
and unknown keys in Google's error shape; cut streams; gemini-2.5-pro's long-prompt price tier."""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from google import genai
from google.genai import errors, types

import upstream_double as up
from perimeter_harness import expected_cost_nanos, nanos
from test_limits import assert_denied
from test_openai import assert_key_row

# USD per million tokens.
GEMINI_2_5_FLASH = {"input": 0.30, "output": 2.50, "cached_input": 0.03}
GEMINI_2_5_PRO = {"input": 1.25, "output": 10, "cached_input": 0.125}  # prompts up to 200k tokens
GEMINI_2_5_PRO_LONG = {"input": 2.50, "output": 15, "cached_input": 0.25}  # prompts above 200k tokens
GEMINI_EMBEDDING_001 = {"input": 0.15, "output": 0}
CUT_PRICE = {"input": 1, "output": 2, "cached_input": 0.1, "cache_write": 1.25}  # perimeter_harness.config_yaml

# What the double's usageMetadata comes to: input is promptTokenCount (cached tokens included) plus
# toolUsePromptTokenCount, output is candidatesTokenCount plus thoughtsTokenCount.
GENERATE_USAGE = {
    "input_tokens": up.GEMINI_PROMPT_TOKENS + up.GEMINI_TOOL_PROMPT_TOKENS,
    "cached_input_tokens": up.GEMINI_CACHED_TOKENS,
    "cache_write_tokens": 0,
    "output_tokens": up.GEMINI_CANDIDATES_TOKENS + up.GEMINI_THOUGHTS_TOKENS,
}
USAGE_KEYS = tuple(GENERATE_USAGE)
WEATHER_TOOL = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="The weather in a city.",
            parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}),
        )
    ]
)


def gemini_client(gateway, key: str, *, api_version: str | None = "v1beta", headers: dict | None = None,
                  seen: list | None = None) -> genai.Client:
    """A client as a developer points it at a proxy; api_version None keeps the SDK's default. With
    `seen`, the headers of every HTTP response the client gets are appended to it (for the results,
    such as a Model, that keep no HTTP response)."""
    options: dict = {"base_url": gateway.url, "timeout": 30_000}
    if api_version:
        options["api_version"] = api_version
    if headers:
        options["headers"] = headers
    if seen is not None:
        options["client_args"] = {"event_hooks": {"response": [lambda response: seen.append(response.headers)]}}
    return genai.Client(api_key=key, http_options=types.HttpOptions(**options))


@pytest.fixture
def gem(gateway, vkey) -> genai.Client:
    return gemini_client(gateway, vkey["key"])


def request_id(response) -> str:
    """The gateway's request id, from any SDK result that keeps its HTTP response (lower-cased names)."""
    return response.sdk_http_response.headers["x-perimeter-request-id"]


def usage_of(call: dict) -> dict:
    return {k: call[k] for k in USAGE_KEYS}


def make_key(gateway, *limit_flags: str) -> dict:
    return gateway.cli_json("keys", "create", "--name", "gem-" + secrets.token_hex(4), "--env", "test", *limit_flags)


def user_content(text: str) -> list[dict]:
    return [{"parts": [{"text": text}], "role": "user"}]


def assert_upstream_credentials(request, provider_key: str, vkey: dict) -> None:
    """Upstream gets the provider key in x-goog-api-key, no other credential, and never the virtual key."""
    assert request.header("x-goog-api-key") == provider_key
    assert request.header("authorization") is None
    assert request.header("x-api-key") is None
    assert "key" not in parse_qs(urlsplit(request["target"]).query), request["target"]
    for name, value in request["headers"]:
        assert vkey["key"] not in value, f"virtual key leaked upstream in header {name}"
    assert vkey["key"] not in request["target"]
    assert vkey["key"] not in request["raw"]


def assert_generate_row(call: dict, model: str, *, stream: bool, price: dict, usage: dict = GENERATE_USAGE) -> None:
    assert call["operation"] == "generate"
    assert call["stream"] is stream
    assert call["outcome"] == "ok"
    assert call["status"] == 200
    assert call["provider"] == "gemini"
    assert call["model"] == model
    assert call["error_code"] is None
    assert call["usage_source"] == "provider"
    assert usage_of(call) == usage
    assert nanos(call["cost_usd"]) == expected_cost_nanos(usage, price)


def google_error(error: errors.APIError, code: int, status: str, reason: str | None = None) -> str:
    """Checks an SDK error and its Google-shaped body (with the gateway's ErrorInfo when `reason`); returns the message."""
    assert error.code == code, (error.code, error.details)
    assert error.status == status, error.details
    body = error.response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code and body["error"]["status"] == status, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    if reason is not None:
        assert set(body["error"]) == {"code", "message", "status", "details"}, body
        assert body["error"]["details"] == [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "perimeter.dev"}
        ], body
    return body["error"]["message"]


# MARK: generateContent


def test_generate_content(gem, gateway, upstream, vkey, provider_secrets, marker):
    response = gem.models.generate_content(
        model="gemini-2.5-flash",
        contents=f"hello {marker}",
        config=types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=64),
    )
    assert response.text == up.answer_text(f"hello {marker}")
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.model_version == "gemini-2.5-flash"
    assert response.response_id == up.GEMINI_RESPONSE_ID
    usage = response.usage_metadata
    assert usage.prompt_token_count == up.GEMINI_PROMPT_TOKENS
    assert usage.cached_content_token_count == up.GEMINI_CACHED_TOKENS
    assert usage.tool_use_prompt_token_count == up.GEMINI_TOOL_PROMPT_TOKENS
    assert usage.candidates_token_count == up.GEMINI_CANDIDATES_TOKENS
    assert usage.thoughts_token_count == up.GEMINI_THOUGHTS_TOKENS
    assert usage.total_token_count == up.GEMINI_TOTAL_TOKENS

    request = upstream.only(marker)
    assert request["method"] == "POST"
    assert request["target"] == "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
    assert_upstream_credentials(request, provider_secrets.gemini_key, vkey)
    assert request["body"]["contents"] == user_content(f"hello {marker}")
    assert request["body"]["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert request["body"]["generationConfig"] == {"maxOutputTokens": 64}

    call = gateway.wait_for_call(request_id(response))
    assert call["id"] == request_id(response)
    assert_generate_row(call, "gemini-2.5-flash", stream=False, price=GEMINI_2_5_FLASH)
    # (21 - 6) * 0.30 + 6 * 0.03 + 15 * 2.50 = 42.18 µ$
    assert nanos(call["cost_usd"]) == 42180
    assert_key_row(call, vkey)


def test_generate_content_on_the_sdks_default_api_version(gateway, upstream, vkey, provider_secrets, marker):
    """google-genai 3.x calls /v1/models/...:generateContent unless told otherwise: a path the OpenAI
    routes share a prefix with, which the gateway must still send to Gemini."""
    client = gemini_client(gateway, vkey["key"], api_version=None)
    response = client.models.generate_content(model="gemini-2.5-flash", contents=f"v1 {marker}")
    assert response.text == up.answer_text(f"v1 {marker}")
    request = upstream.only(marker)
    assert request["target"] == "/gemini/v1/models/gemini-2.5-flash:generateContent"
    assert_upstream_credentials(request, provider_secrets.gemini_key, vkey)
    assert_generate_row(gateway.wait_for_call(request_id(response)), "gemini-2.5-flash", stream=False, price=GEMINI_2_5_FLASH)


def test_generate_content_stream(gem, gateway, upstream, vkey, provider_secrets, marker):
    chunks = list(gem.models.generate_content_stream(model="gemini-2.5-pro", contents=f"stream {marker}"))
    assert "".join(c.text or "" for c in chunks) == up.answer_text(f"stream {marker}")
    assert len(chunks) == len(up.answer_pieces(f"stream {marker}"))
    # Every chunk carries usage; only the last has the finish reason and the final counts.
    assert all(c.usage_metadata.prompt_token_count == up.GEMINI_PROMPT_TOKENS for c in chunks)
    assert [c.candidates[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count == up.GEMINI_CANDIDATES_TOKENS
    assert chunks[-1].usage_metadata.thoughts_token_count == up.GEMINI_THOUGHTS_TOKENS
    headers = chunks[0].sdk_http_response.headers
    assert headers["content-type"].startswith("text/event-stream")

    request = upstream.only(marker)
    assert request["target"] == "/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    assert_upstream_credentials(request, provider_secrets.gemini_key, vkey)
    assert request["body"]["contents"] == user_content(f"stream {marker}")

    call = gateway.wait_for_call(request_id(chunks[0]))
    assert_generate_row(call, "gemini-2.5-pro", stream=True, price=GEMINI_2_5_PRO)
    # (21 - 6) * 1.25 + 6 * 0.125 + 15 * 10 = 169.5 µ$
    assert nanos(call["cost_usd"]) == 169500
    assert_key_row(call, vkey)


@pytest.mark.parametrize("split", ["awkward", "whole", "tiny", "crlf"])
def test_generate_content_stream_however_it_is_cut_into_writes(gateway, upstream, vkey, split, marker):
    """Google ends SSE events with CRLF CRLF; the double cuts them into writes in several ways."""
    client = gemini_client(gateway, vkey["key"], headers={"x-double-split": split})
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents=f"split {split} {marker}"))
    assert "".join(c.text or "" for c in chunks) == up.answer_text(f"split {split} {marker}")
    assert upstream.only(marker).header("x-double-split") == split
    assert_generate_row(gateway.wait_for_call(request_id(chunks[0])), "gemini-2.5-flash", stream=True, price=GEMINI_2_5_FLASH)


def test_stream_without_alt_sse_is_a_json_array(gateway, upstream, vkey, provider_secrets, marker):
    """streamGenerateContent without ?alt=sse streams one JSON array (what some clients ask for)."""
    body = json.dumps({"contents": user_content(f"array {marker}")}).encode()
    status, headers, data = gateway.http(
        "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", body,
        {"x-goog-api-key": vkey["key"], "Content-Type": "application/json"},
    )
    assert status == 200, data
    assert headers["content-type"].startswith("application/json")
    chunks = json.loads(data)
    assert isinstance(chunks, list) and len(chunks) == len(up.answer_pieces(f"array {marker}"))
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == up.answer_text(f"array {marker}")
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == up.GEMINI_CANDIDATES_TOKENS

    request = upstream.only(marker)
    assert request["target"] == "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert_upstream_credentials(request, provider_secrets.gemini_key, vkey)
    assert_generate_row(gateway.wait_for_call(headers["x-perimeter-request-id"]), "gemini-2.5-flash", stream=True, price=GEMINI_2_5_FLASH)


def test_tools_are_forwarded(gem, gateway, upstream, marker):
    response = gem.models.generate_content(
        model="gemini-2.5-flash", contents=f"tools {marker}",
        config=types.GenerateContentConfig(
            tools=[WEATHER_TOOL], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
        ),
    )
    assert response.text == up.answer_text(f"tools {marker}")
    declared = upstream.only(marker)["body"]["tools"]
    assert [d["name"] for tool in declared for d in tool["functionDeclarations"]] == ["get_weather"]
    assert_generate_row(gateway.wait_for_call(request_id(response)), "gemini-2.5-flash", stream=False, price=GEMINI_2_5_FLASH)


@pytest.mark.parametrize(
    ("prompt_tokens", "price"), [(150_000, GEMINI_2_5_PRO), (250_000, GEMINI_2_5_PRO_LONG)], ids=["short", "long"]
)
def test_gemini_2_5_pro_price_tier_follows_the_prompt_size(gateway, vkey, prompt_tokens, price, marker):
    """gemini-2.5-pro costs more per token, every token, once the prompt is over 200k tokens."""
    client = gemini_client(gateway, vkey["key"], headers={"x-double-prompt-tokens": str(prompt_tokens)})
    response = client.models.generate_content(model="gemini-2.5-pro", contents=f"tier {marker}")
    assert response.usage_metadata.prompt_token_count == prompt_tokens
    usage = dict(GENERATE_USAGE, input_tokens=prompt_tokens + up.GEMINI_TOOL_PROMPT_TOKENS)
    call = gateway.wait_for_call(request_id(response))
    assert_generate_row(call, "gemini-2.5-pro", stream=False, price=price, usage=usage)
    # short: 149996 * 1.25 + 6 * 0.125 + 15 * 10; long: 249996 * 2.50 + 6 * 0.25 + 15 * 15 (µ$)
    assert nanos(call["cost_usd"]) == {150_000: 187_645_750, 250_000: 625_216_500}[prompt_tokens]


# MARK: the virtual key


def test_virtual_key_in_the_key_query_parameter(gateway, upstream, vkey, provider_secrets, marker):
    body = json.dumps({"contents": user_content(f"query key {marker}")}).encode()
    status, headers, data = gateway.http(
        "POST", f"/v1beta/models/gemini-2.5-flash:generateContent?key={vkey['key']}", body,
        {"Content-Type": "application/json"},
    )
    assert status == 200, data
    answer = json.loads(data)
    assert answer["candidates"][0]["content"]["parts"][0]["text"] == up.answer_text(f"query key {marker}")
    request = upstream.only(marker)
    assert request["target"] == "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
    assert_upstream_credentials(request, provider_secrets.gemini_key, vkey)
    call = gateway.wait_for_call(headers["x-perimeter-request-id"])
    assert_generate_row(call, "gemini-2.5-flash", stream=False, price=GEMINI_2_5_FLASH)
    assert_key_row(call, vkey)


def test_key_query_parameter_is_removed_and_the_others_kept(gateway, upstream, vkey, provider_secrets, marker):
    body = json.dumps({"contents": user_content(f"query stream {marker}")}).encode()
    status, headers, data = gateway.http(
        "POST", f"/v1beta/models/gemini-2.5-flash:streamGenerateContent?key={vkey['key']}&alt=sse", body,
        {"Content-Type": "application/json"},
    )
    assert status == 200, data
    events = [json.loads(line[6:]) for line in data.decode().splitlines() if line.startswith("data: ")]
    assert "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events) == up.answer_text(f"query stream {marker}")
    request = upstream.only(marker)
    assert request["target"] == "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert_upstream_credentials(request, provider_secrets.gemini_key, vkey)
    assert_generate_row(gateway.wait_for_call(headers["x-perimeter-request-id"]), "gemini-2.5-flash", stream=True, price=GEMINI_2_5_FLASH)


def test_unknown_virtual_key(gateway, upstream, marker):
    client = gemini_client(gateway, "prm_test_" + secrets.token_hex(19))
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents=f"unknown {marker}")
    google_error(caught.value, 401, "UNAUTHENTICATED", "invalid_api_key")
    assert upstream.find(marker) == []
    call = assert_denied(gateway, caught.value.response.headers["x-perimeter-request-id"], "invalid_api_key", 401)
    assert call["key_id"] is None


def test_provider_key_is_not_a_virtual_key(gateway, upstream, provider_secrets, marker):
    client = gemini_client(gateway, provider_secrets.gemini_key)
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents=f"provider key {marker}")
    google_error(caught.value, 401, "UNAUTHENTICATED", "invalid_api_key")
    assert upstream.find(marker) == []


def test_missing_key(gateway, upstream, marker):
    body = json.dumps({"contents": user_content(f"no key {marker}")}).encode()
    status, headers, data = gateway.http(
        "POST", "/v1beta/models/gemini-2.5-flash:generateContent", body, {"Content-Type": "application/json"}
    )
    assert status == 401, data
    error = json.loads(data)["error"]
    assert error["code"] == 401 and error["status"] == "UNAUTHENTICATED", error
    assert headers["x-perimeter-request-id"].startswith("req_")
    assert upstream.find(marker) == []


# MARK: countTokens, embeddings


def test_count_tokens(gem, gateway, upstream, vkey, provider_secrets, marker):
    result = gem.models.count_tokens(model="gemini-2.5-flash", contents=f"count {marker}")
    assert result.total_tokens == up.GEMINI_COUNT_TOKENS
    request = upstream.only(marker)
    assert request["target"] == "/gemini/v1beta/models/gemini-2.5-flash:countTokens"
    assert_upstream_credentials(request, provider_secrets.gemini_key, vkey)
    assert request["body"]["contents"] == user_content(f"count {marker}")
    call = gateway.wait_for_call(request_id(result))
    assert call["operation"] == "count_tokens"
    assert call["outcome"] == "ok"
    assert call["provider"] == "gemini"
    assert call["model"] == "gemini-2.5-flash"
    # Counting tokens consumes none (no usage to source, as for Anthropic's count_tokens).
    assert call["usage_source"] is None
    assert call["input_tokens"] == 0 and call["output_tokens"] == 0
    assert call["cost_usd"] == 0


def assert_estimated_embedding_row(call: dict, request) -> None:
    """Gemini's embedding answers carry no usage: the call is charged by an estimate of its input."""
    assert call["operation"] == "embeddings"
    assert call["outcome"] == "ok"
    assert call["status"] == 200
    assert call["provider"] == "gemini"
    assert call["model"] == "gemini-embedding-001"
    assert call["usage_source"] == "estimated"
    assert call["output_tokens"] == 0 and call["cached_input_tokens"] == 0
    assert 0 < call["input_tokens"] <= len(request["raw"].encode())
    assert nanos(call["cost_usd"]) == expected_cost_nanos(usage_of(call), GEMINI_EMBEDDING_001) > 0


def test_embeddings(gem, gateway, upstream, vkey, provider_secrets, marker):
    """google-genai's embed_content calls batchEmbedContents, one request per text."""
    result = gem.models.embed_content(model="gemini-embedding-001", contents=[f"one {marker}", "two"])
    assert [e.values for e in result.embeddings] == [pytest.approx([0.25, 0.375, 0.5, 0.625]), pytest.approx([0.5, 0.625, 0.75, 0.875])]
    request = upstream.only(marker)
    assert request["target"] == "/gemini/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert_upstream_credentials(request, provider_secrets.gemini_key, vkey)
    assert [r["model"] for r in request["body"]["requests"]] == ["models/gemini-embedding-001"] * 2
    assert [r["content"] for r in request["body"]["requests"]] == user_content(f"one {marker}") + user_content("two")
    assert_estimated_embedding_row(gateway.wait_for_call(request_id(result)), request)


def test_embed_content(gateway, upstream, vkey, provider_secrets, marker):
    body = json.dumps({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": f"single {marker}"}]}}).encode()
    status, headers, data = gateway.http(
        "POST", "/v1beta/models/gemini-embedding-001:embedContent", body,
        {"x-goog-api-key": vkey["key"], "Content-Type": "application/json"},
    )
    assert status == 200, data
    assert json.loads(data)["embedding"]["values"] == pytest.approx([0.25, 0.375, 0.5, 0.625])
    request = upstream.only(marker)
    assert request["target"] == "/gemini/v1beta/models/gemini-embedding-001:embedContent"
    assert_upstream_credentials(request, provider_secrets.gemini_key, vkey)
    assert_estimated_embedding_row(gateway.wait_for_call(headers["x-perimeter-request-id"]), request)


# MARK: models


def gemini_requests(upstream, path: str) -> list:
    return [r for r in upstream.requests if r["path"] == path]


def test_models_list(gem, gateway, upstream, vkey, provider_secrets):
    before = len(gemini_requests(upstream, "/gemini/v1beta/models"))
    pager = gem.models.list()
    assert [m.name for m in pager] == [f"models/{m}" for m in up.GEMINI_MODELS]
    assert pager.page[0].input_token_limit == 1048576
    assert "generateContent" in pager.page[0].supported_actions
    requests = gemini_requests(upstream, "/gemini/v1beta/models")[before:]
    assert len(requests) == 1
    assert requests[0]["method"] == "GET"
    assert_upstream_credentials(requests[0], provider_secrets.gemini_key, vkey)
    call = gateway.wait_for_call(request_id(pager))
    assert call["operation"] == "models"
    assert call["provider"] == "gemini"
    assert call["outcome"] == "ok" and call["status"] == 200
    assert call["input_tokens"] == 0 and call["output_tokens"] == 0


def test_models_list_pages(gem, gateway, upstream):
    before = len(gemini_requests(upstream, "/gemini/v1beta/models"))
    pager = gem.models.list(config={"page_size": 2})
    assert [m.name for m in pager] == [f"models/{m}" for m in up.GEMINI_MODELS]
    targets = [r["target"] for r in gemini_requests(upstream, "/gemini/v1beta/models")[before:]]
    assert len(targets) == 3
    queries = [parse_qs(urlsplit(t).query) for t in targets]
    assert all(q["pageSize"] == ["2"] for q in queries)
    assert "pageToken" not in queries[0] and all("pageToken" in q for q in queries[1:])
    assert all("key" not in q for q in queries)
    # Each page is a call of its own.
    assert gateway.wait_for_call(request_id(pager))["operation"] == "models"


def test_models_get(gateway, upstream, vkey, provider_secrets):
    seen: list = []
    client = gemini_client(gateway, vkey["key"], seen=seen)  # kept: a collected Client closes its connections
    model = client.models.get(model="gemini-2.5-flash")
    assert model.name == "models/gemini-2.5-flash"
    assert model.output_token_limit == 65536
    request = [r for r in upstream.requests if r["path"] == "/gemini/v1beta/models/gemini-2.5-flash"][-1]
    assert request["method"] == "GET"
    assert_upstream_credentials(request, provider_secrets.gemini_key, vkey)
    assert len(seen) == 1
    call = gateway.wait_for_call(seen[0]["x-perimeter-request-id"])
    assert call["operation"] == "models" and call["outcome"] == "ok" and call["model"] == "gemini-2.5-flash"


def test_models_get_unknown_passes_googles_404_through(gem, gateway):
    with pytest.raises(errors.ClientError) as caught:
        gem.models.get(model="gemini-no-such-model")
    message = google_error(caught.value, 404, "NOT_FOUND")
    assert "models/gemini-no-such-model" in message
    call = gateway.wait_for_call(caught.value.response.headers["x-perimeter-request-id"])
    assert call["status"] == 404 and call["operation"] == "models" and call["provider"] == "gemini"


# MARK: limits


def test_model_allowlist(gateway, upstream, marker):
    key = make_key(gateway, "--models", "gemini-2.5-flash")
    client = gemini_client(gateway, key["key"])
    assert client.models.generate_content(model="gemini-2.5-flash", contents=f"ok {marker}").text == up.answer_text(f"ok {marker}")
    assert [m.name for m in client.models.list()] == ["models/gemini-2.5-flash"]

    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.5-pro", contents=f"pro {marker}")
    message = google_error(caught.value, 403, "PERMISSION_DENIED", "model_not_allowed")
    assert "'gemini-2.5-pro'" in message, message
    assert_denied(gateway, caught.value.response.headers["x-perimeter-request-id"], "model_not_allowed", 403,
                  operation="generate", model="gemini-2.5-pro")

    with pytest.raises(errors.ClientError) as caught:
        list(client.models.generate_content_stream(model="gemini-2.5-pro", contents=f"pro stream {marker}"))
    google_error(caught.value, 403, "PERMISSION_DENIED", "model_not_allowed")
    assert_denied(gateway, caught.value.response.headers["x-perimeter-request-id"], "model_not_allowed", 403,
                  operation="generate")

    with pytest.raises(errors.ClientError) as caught:
        client.models.get(model="gemini-2.5-pro")
    google_error(caught.value, 403, "PERMISSION_DENIED", "model_not_allowed")
    assert_denied(gateway, caught.value.response.headers["x-perimeter-request-id"], "model_not_allowed", 403, operation="models")
    assert upstream.find(f"pro {marker}") == [] and upstream.find(f"pro stream {marker}") == []


def test_tools_denied(gateway, upstream, marker):
    key = make_key(gateway, "--tools", "deny")
    client = gemini_client(gateway, key["key"])
    assert client.models.generate_content(model="gemini-2.5-flash", contents=f"plain {marker}").text == up.answer_text(f"plain {marker}")
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(
            model="gemini-2.5-flash", contents=f"tools {marker}",
            config=types.GenerateContentConfig(
                tools=[WEATHER_TOOL], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
            ),
        )
    message = google_error(caught.value, 403, "PERMISSION_DENIED", "tools_not_allowed")
    assert "'get_weather'" in message, message
    assert_denied(gateway, caught.value.response.headers["x-perimeter-request-id"], "tools_not_allowed", 403, operation="generate")
    assert upstream.find(f"tools {marker}") == []


# MARK: a stream cut upstream


def test_cut_stream(gem, gateway, upstream, marker):
    received = []
    rid = None
    with pytest.raises(Exception) as caught:
        for chunk in gem.models.generate_content_stream(model="cut-stream", contents=f"cut {marker}"):
            rid = rid or request_id(chunk)
            received.append(chunk.text or "")
    # The SDK lets its HTTP library's error through: the body the gateway never finished.
    names = [cls.__name__ for cls in type(caught.value).__mro__]
    assert "RemoteProtocolError" in names, repr(caught.value)
    assert "incomplete chunked read" in str(caught.value), repr(caught.value)
    assert received and "".join(up.CUT_PIECES).startswith("".join(received))
    assert upstream.only(marker)["target"] == "/gemini/v1beta/models/cut-stream:streamGenerateContent?alt=sse"

    call = gateway.wait_for_call(rid)
    assert call["outcome"] == "stream_cut"
    assert call["error_code"] == "stream_cut"
    assert call["status"] == 200
    assert call["stream"] is True
    assert call["provider"] == "gemini"
    assert call["operation"] == "generate"
    # No chunk had the final counts: the call is charged an estimate.
    assert call["usage_source"] == "estimated"
    assert call["input_tokens"] > 0 and call["output_tokens"] >= 1
    assert nanos(call["cost_usd"]) == expected_cost_nanos(usage_of(call), CUT_PRICE) > 0


# MARK: budgets and providers, as for OpenAI


def test_a_budget_too_small_for_the_worst_case_is_refused_before_google_sees_the_call(gateway, upstream, marker):
    # The worst case of a gemini-2.5-flash call with no output limit is the model's 65,536 output
    # tokens at $2.50 per million, about $0.16: a cent's budget cannot hold it.
    key = make_key(gateway, "--budget", "0.01")
    client = gemini_client(gateway, key["key"])
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents=f"budget {marker}")
    google_error(caught.value, 429, "RESOURCE_EXHAUSTED", "budget_exceeded")
    assert upstream.find(f"budget {marker}") == []
    # With an output limit the worst case fits, and the call's real cost is what the budget spends.
    answer = client.models.generate_content(
        model="gemini-2.5-flash", contents=f"fits {marker}", config=types.GenerateContentConfig(max_output_tokens=64))
    call = gateway.wait_for_call(request_id(answer))
    assert call["outcome"] == "ok"
    assert upstream.only(f"fits {marker}")["body"]["generationConfig"]["maxOutputTokens"] == 64
    spent = gateway.cli_json("keys", "show", key["id"])["budget"]["spent_usd"]
    assert nanos(spent) == nanos(call["cost_usd"]) > 0


def test_a_key_restricted_to_other_providers_cannot_reach_gemini(gateway, upstream, marker):
    key = make_key(gateway, "--providers", "openai,anthropic")
    client = gemini_client(gateway, key["key"])
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents=f"elsewhere {marker}")
    google_error(caught.value, 403, "PERMISSION_DENIED", "provider_not_allowed")
    assert upstream.find(f"elsewhere {marker}") == []


def test_a_client_cannot_strip_the_usage_it_is_charged_from(gateway, upstream, vkey, marker):
    """Google's system parameters and headers (a field mask, protobuf answers, JSONP) would hide
    usageMetadata from the meter: the parameters are refused, the headers never reach Google."""
    body = json.dumps({"contents": user_content(f"strip {marker}")}).encode()
    for query in ("fields=candidates", "%24fields=candidates", "alt=proto", "%24alt=proto", "callback=f"):
        status, _, data = gateway.http(
            "POST", f"/v1beta/models/gemini-2.5-flash:generateContent?{query}", body,
            {"Content-Type": "application/json", "x-goog-api-key": vkey["key"]})
        assert status == 400, (query, data)
        assert json.loads(data)["error"]["status"] == "INVALID_ARGUMENT"
    assert upstream.find(f"strip {marker}") == []
    status, headers, _ = gateway.http(
        "POST", "/v1beta/models/gemini-2.5-flash:generateContent", body,
        {"Content-Type": "application/json", "x-goog-api-key": vkey["key"], "X-Goog-FieldMask": "candidates",
         "X-HTTP-Method-Override": "GET", "x-goog-api-client": "genai-py/test"})
    assert status == 200
    request = upstream.only(f"strip {marker}")
    assert request.header("x-goog-fieldmask") is None and request.header("x-http-method-override") is None
    assert request.header("x-goog-api-client") == "genai-py/test"
    assert gateway.wait_for_call(headers["x-perimeter-request-id"])["usage_source"] == "provider"
