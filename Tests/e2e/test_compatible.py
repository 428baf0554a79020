"""OpenAI-compatible providers (`kind: openai-compatible`) through the official openai SDK: a hosted
vendor that reports a stream's usage when asked (like Groq or DeepSeek) and a self-hosted server
with no key that does not know `stream_options` (like an older vLLM). Each is metered, limited and
logged as OpenAI is; the second's streams are charged by estimate, never nothing."""

from __future__ import annotations

import secrets

import openai
import pytest

import upstream_double as up
from perimeter_harness import expected_cost_nanos, nanos, openai_client

VENDOR_KEY = "gsk_upstream_" + secrets.token_hex(16)
PRICE = {"input": 0.59, "output": 0.79}


@pytest.fixture(scope="module")
def compat(gateway_factory_session, upstream):
    providers = (
        "  - { name: groq, kind: openai-compatible, base_url: "
        f'"{upstream.base}/compat/groq/v1", api_key: "env:GROQ_API_KEY", models: ["llama-*"], stream_usage: true }}\n'
        "  - { name: together, kind: openai-compatible, base_url: "
        f'"{upstream.base}/compat/together/v1", api_key: "env:GROQ_API_KEY", models: ["llama-*"], stream_usage: true }}\n'
        "  - { name: local-vllm, kind: openai-compatible, base_url: "
        f'"{upstream.base}/compat/strict/v1", models: ["mixtral-*"] }}\n'
    )
    prices = "  llama-3.3-70b-versatile: { input: 0.59, output: 0.79 }\n  mixtral-8x7b: { input: 0.59, output: 0.79 }\n"
    gateway = gateway_factory_session(
        "compat", config={"extra_providers": providers, "extra_prices": prices}, extra_env={"GROQ_API_KEY": VENDOR_KEY})
    key = gateway.cli_json("keys", "create", "--name", "compat", "--env", "test", "--budget", "5")
    return gateway, key


def test_a_hosted_vendor_gets_its_own_key_and_reports_usage(compat, upstream, marker):
    gateway, key = compat
    client = openai_client(gateway, key["key"])
    raw = client.chat.completions.with_raw_response.create(
        model="llama-3.3-70b-versatile", messages=[{"role": "user", "content": f"hi {marker}"}])
    assert raw.parse().choices[0].message.content == up.answer_text(f"hi {marker}")
    request = upstream.only(marker)
    assert request["path"] == "/compat/groq/v1/chat/completions"
    assert request.header("authorization") == f"Bearer {VENDOR_KEY}"
    assert all(key["key"] not in value for _, value in request["headers"])
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["provider"] == "groq" and call["outcome"] == "ok" and call["usage_source"] == "provider"
    usage = {"input_tokens": up.CHAT_PROMPT_TOKENS, "cached_input_tokens": up.CHAT_CACHED_TOKENS, "cache_write_tokens": 0,
             "output_tokens": up.CHAT_COMPLETION_TOKENS}
    assert nanos(call["cost_usd"]) == expected_cost_nanos(usage, PRICE)

    # Streamed: the gateway asks for the usage chunk and hides it from a client that did not.
    stream_marker = marker + "-stream"
    raw = client.chat.completions.with_raw_response.create(
        model="llama-3.3-70b-versatile", messages=[{"role": "user", "content": f"hi {stream_marker}"}], stream=True)
    chunks = list(raw.parse())
    assert all(chunk.usage is None for chunk in chunks)
    assert upstream.only(stream_marker)["body"]["stream_options"] == {"include_usage": True}
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["usage_source"] == "provider" and call["output_tokens"] == up.CHAT_COMPLETION_TOKENS


def test_a_server_without_stream_usage_is_not_asked_and_its_streams_are_estimated(compat, upstream, marker):
    gateway, key = compat
    client = openai_client(gateway, key["key"])
    raw = client.chat.completions.with_raw_response.create(
        model="mixtral-8x7b", messages=[{"role": "user", "content": f"local {marker}"}], stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)
    assert text == up.answer_text(f"local {marker}")
    request = upstream.only(marker)
    # Not asked for what it does not know (it would refuse the call), and no key was sent.
    assert request["path"] == "/compat/strict/v1/chat/completions" and "stream_options" not in request["body"]
    assert request.header("authorization") is None
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["provider"] == "local-vllm" and call["outcome"] == "ok"
    # Charged by estimate: the request's input ceiling and the output relayed, never nothing.
    assert call["usage_source"] == "estimated"
    assert call["input_tokens"] > 0 and call["output_tokens"] > 0 and nanos(call["cost_usd"]) > 0
    # Not streamed, the server's own usage counts.
    raw = client.chat.completions.with_raw_response.create(
        model="mixtral-8x7b", messages=[{"role": "user", "content": f"plain {marker}"}])
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["usage_source"] == "provider" and call["input_tokens"] == up.CHAT_PROMPT_TOKENS


def test_limits_hold_for_compatible_providers(compat, marker):
    gateway, _ = compat
    limited = gateway.cli_json("keys", "create", "--name", "llama-only", "--env", "test", "--models", "llama-*")
    client = openai_client(gateway, limited["key"])
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model="mixtral-8x7b", messages=[{"role": "user", "content": f"no {marker}"}])
    assert refused.value.code == "model_not_allowed"
    logged = gateway.wait_for_call(refused.value.response.headers["x-perimeter-request-id"])
    assert logged["outcome"] == "denied" and logged["error_code"] == "model_not_allowed"


def test_a_key_restricted_to_providers_is_routed_to_them_or_refused(compat, upstream, marker):
    gateway, _ = compat
    # Both groq and together serve llama-*; groq is listed first and takes the calls of other keys.
    pinned = gateway.cli_json("keys", "create", "--name", "eu-only", "--env", "test", "--providers", "together,local-vllm")
    assert pinned["limits"]["providers"] == ["together", "local-vllm"]
    client = openai_client(gateway, pinned["key"])
    raw = client.chat.completions.with_raw_response.create(
        model="llama-3.3-70b-versatile", messages=[{"role": "user", "content": f"pinned {marker}"}])
    assert upstream.only(marker)["path"] == "/compat/together/v1/chat/completions"
    assert gateway.wait_for_call(raw.headers["x-perimeter-request-id"])["provider"] == "together"
    # A model only other providers serve is refused, and logged so.
    elsewhere = gateway.cli_json("keys", "create", "--name", "vllm-only", "--env", "test", "--providers", "local-vllm")
    with pytest.raises(openai.PermissionDeniedError) as refused:
        openai_client(gateway, elsewhere["key"]).chat.completions.create(
            model="llama-3.3-70b-versatile", messages=[{"role": "user", "content": f"refused {marker}"}])
    assert refused.value.code == "provider_not_allowed"
    assert not upstream.find(f"refused {marker}")
    logged = gateway.wait_for_call(refused.value.response.headers["x-perimeter-request-id"])
    assert logged["error_code"] == "provider_not_allowed" and logged["outcome"] == "denied"
    # Lifted, the key takes the default route again.
    assert "providers" not in gateway.cli_json("keys", "update", elsewhere["id"], "--any-provider")["limits"]
    bad = gateway.cli("keys", "update", elsewhere["id"], "--providers", "eu west", check=False)
    assert bad.returncode != 0 and "not a provider name" in bad.stderr


def test_the_model_list_is_every_providers_of_the_wire_format(compat):
    gateway, key = compat
    ids = [model.id for model in openai_client(gateway, key["key"]).models.list()]
    # The vendors' own models, OpenAI's, and the model two vendors share once.
    assert {"groq-own-model", "together-own-model", "strict-own-model", "gpt-4o-mini"} <= set(ids), ids
    assert ids.count("llama-3.3-70b-versatile") == 1
    # A key limited to some models and providers lists only what it may use.
    limited = gateway.cli_json("keys", "create", "--name", "list-limited", "--env", "test", "--providers", "groq,together",
                               "--models", "*-own-model")
    assert sorted(m.id for m in openai_client(gateway, limited["key"]).models.list()) == ["groq-own-model", "together-own-model"]
