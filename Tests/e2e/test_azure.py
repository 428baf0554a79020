"""Azure OpenAI (`kind: azure-openai`) through the official openai SDK: the AzureOpenAI client with only
the endpoint and key changed, and the plain OpenAI client with a model the resource has a deployment
for. Both reach the deployment with the configured API version and the resource's `api-key`, never the
virtual key, and are metered, limited and logged as OpenAI is."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import openai
import pytest

import upstream_double as up
from perimeter_harness import expected_cost_nanos, nanos, openai_client

AZURE_KEY = "azure-upstream-" + secrets.token_hex(16)
API_VERSION = "2024-10-21"
GPT_4O_MINI = {"input": 0.15, "output": 0.60, "cached_input": 0.075}
CHAT_USAGE = {"input_tokens": up.CHAT_PROMPT_TOKENS, "cached_input_tokens": up.CHAT_CACHED_TOKENS, "cache_write_tokens": 0,
              "output_tokens": up.CHAT_COMPLETION_TOKENS}


@pytest.fixture(scope="module")
def azure(gateway_factory_session, upstream):
    providers = (
        "  - name: azure-eu\n    kind: azure-openai\n"
        f"    base_url: {upstream.base}/azure\n    api_key: env:AZURE_OPENAI_KEY\n    api_version: \"{API_VERSION}\"\n"
        "    deployments: { gpt-4o-mini: chat-prod, text-embedding-3-small: embed-prod }\n"
    )
    gateway = gateway_factory_session(
        "azure", config={"extra_providers": providers}, extra_env={"AZURE_OPENAI_KEY": AZURE_KEY})
    key = gateway.cli_json("keys", "create", "--name", "azure", "--env", "test", "--budget", "5")
    return gateway, key


def azure_client(gateway, key: str) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=gateway.url, api_key=key, api_version="2025-01-01-preview", max_retries=0)


def assert_reached_the_deployment(request, deployment: str, key: dict) -> None:
    url = urlsplit(request["target"])
    assert url.path == f"/azure/openai/deployments/{deployment}/" + request["path"].split(f"/{deployment}/", 1)[1]
    # The configured API version, not the client's.
    assert parse_qs(url.query) == {"api-version": [API_VERSION]}
    assert request.header("api-key") == AZURE_KEY and request.header("authorization") is None
    assert all(key["key"] not in value for _, value in request["headers"]) and key["key"] not in request["target"]


def test_the_azure_client_reaches_its_deployment_and_is_metered(azure, upstream, marker):
    gateway, key = azure
    client = azure_client(gateway, key["key"])
    # The AzureOpenAI client names the deployment as its model.
    raw = client.chat.completions.with_raw_response.create(
        model="chat-prod", messages=[{"role": "user", "content": f"azure {marker}"}])
    assert raw.parse().choices[0].message.content == up.answer_text(f"azure {marker}")
    assert_reached_the_deployment(upstream.only(marker), "chat-prod", key)
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["provider"] == "azure-eu" and call["model"] == "gpt-4o-mini" and call["outcome"] == "ok"
    assert {name: call[name] for name in CHAT_USAGE} == CHAT_USAGE
    assert nanos(call["cost_usd"]) == expected_cost_nanos(CHAT_USAGE, GPT_4O_MINI)

    # Streamed: the usage chunk is asked for and hidden, as on OpenAI.
    stream_marker = marker + "-stream"
    raw = client.chat.completions.with_raw_response.create(
        model="chat-prod", messages=[{"role": "user", "content": f"azure {stream_marker}"}], stream=True)
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == up.answer_text(f"azure {stream_marker}")
    assert all(chunk.usage is None for chunk in chunks)
    assert upstream.only(stream_marker)["body"]["stream_options"] == {"include_usage": True}
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["stream"] is True and call["usage_source"] == "provider" and call["output_tokens"] == up.CHAT_COMPLETION_TOKENS

    embedding = client.embeddings.with_raw_response.create(model="embed-prod", input=f"embed {marker}")
    assert len(embedding.parse().data) == 1
    assert_reached_the_deployment(upstream.only(f"embed {marker}"), "embed-prod", key)
    call = gateway.wait_for_call(embedding.headers["x-perimeter-request-id"])
    assert call["operation"] == "embeddings" and call["model"] == "text-embedding-3-small" and call["provider"] == "azure-eu"


def test_the_plain_openai_client_reaches_the_deployment_of_its_model(azure, upstream, marker):
    gateway, key = azure
    raw = openai_client(gateway, key["key"]).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"plain {marker}"}])
    assert raw.parse().usage.prompt_tokens == up.CHAT_PROMPT_TOKENS
    assert_reached_the_deployment(upstream.only(marker), "chat-prod", key)
    assert gateway.wait_for_call(raw.headers["x-perimeter-request-id"])["provider"] == "azure-eu"


def test_limits_hold_and_unknown_deployments_are_refused(azure, upstream, marker):
    gateway, _ = azure
    limited = gateway.cli_json("keys", "create", "--name", "embed-only", "--env", "test", "--models", "text-embedding-*")
    client = azure_client(gateway, limited["key"])
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model="chat-prod", messages=[{"role": "user", "content": f"no {marker}"}])
    assert refused.value.code == "model_not_allowed"
    assert not upstream.find(f"no {marker}")
    elsewhere = gateway.cli_json("keys", "create", "--name", "not-azure", "--env", "test", "--providers", "openai")
    with pytest.raises(openai.PermissionDeniedError) as refused:
        azure_client(gateway, elsewhere["key"]).chat.completions.create(
            model="chat-prod", messages=[{"role": "user", "content": f"other {marker}"}])
    assert refused.value.code == "provider_not_allowed"
    # A deployment no resource has, and one whose name would steer the upstream path.
    open_key = gateway.cli_json("keys", "create", "--name", "no-limits", "--env", "test")
    with pytest.raises(openai.NotFoundError) as missing:
        azure_client(gateway, open_key["key"]).embeddings.create(model="no-such-deployment", input=f"x {marker}")
    assert missing.value.code == "model_not_found"
    status, _, _ = gateway.http(
        "POST", "/openai/deployments/..%2F..%2Fadmin/embeddings?api-version=2024-10-21", b'{"input": "x"}',
        {"api-key": open_key["key"], "Content-Type": "application/json"})
    assert status in (400, 404)
    assert not upstream.find(f"x {marker}")


def test_entra_id_tokens_replace_the_resource_key(gateway_factory, upstream, marker):
    """With entra:, the gateway gets a token by the client credentials grant (the client secret from a
    reference) and sends it as a bearer token; it reuses it until it nears its expiry."""
    providers = (
        "  - name: azure-entra\n    kind: azure-openai\n"
        f"    base_url: {upstream.base}/azure\n"
        "    deployments: { gpt-4o-mini: chat-entra }\n"
        f"    entra: {{ tenant_id: contoso-tenant, client_id: perimeter-app, client_secret: \"env:ENTRA_SECRET\", authority: \"{upstream.base}/entra\" }}\n"
    )
    gateway = gateway_factory("azure-entra", config={"extra_providers": providers}, extra_env={"ENTRA_SECRET": up.ENTRA_CLIENT_SECRET})
    key = gateway.cli_json("keys", "create", "--name", "entra", "--env", "test")
    client = azure_client(gateway, key["key"])
    for index in range(2):
        client.chat.completions.create(model="chat-entra", messages=[{"role": "user", "content": f"entra {index} {marker}"}])
        request = upstream.only(f"entra {index} {marker}")
        assert request["path"] == "/azure/openai/deployments/chat-entra/chat/completions"
        assert request.header("authorization") == "Bearer entra-token-contoso-tenant-perimeter-app"
        assert request.header("api-key") is None
    grants = [r for r in upstream.requests if r["path"] == "/entra/contoso-tenant/oauth2/v2.0/token"]
    assert len(grants) == 1, "the token is reused until it nears its expiry"
    assert "client_id=perimeter-app" in grants[0]["raw"] and "scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default" in grants[0]["raw"]
    # The client secret is in no log line.
    assert up.ENTRA_CLIENT_SECRET not in gateway.stderr_text() and up.ENTRA_CLIENT_SECRET not in gateway.stdout_text()


def test_a_refused_entra_secret_is_502_secret_unavailable_and_names_no_secret(gateway_factory, upstream, marker):
    providers = (
        "  - name: azure-entra\n    kind: azure-openai\n"
        f"    base_url: {upstream.base}/azure\n"
        "    deployments: { gpt-4o-mini: chat-entra }\n"
        f"    entra: {{ tenant_id: contoso-tenant, client_id: perimeter-app, client_secret: \"env:ENTRA_SECRET\", authority: \"{upstream.base}/entra\" }}\n"
    )
    gateway = gateway_factory("azure-entra-bad", config={"extra_providers": providers}, extra_env={"ENTRA_SECRET": "wrong-secret-value"})
    key = gateway.cli_json("keys", "create", "--name", "entra-bad", "--env", "test")
    with pytest.raises(openai.APIStatusError) as failed:
        azure_client(gateway, key["key"]).chat.completions.create(
            model="chat-entra", messages=[{"role": "user", "content": f"bad {marker}"}])
    assert failed.value.status_code == 502 and failed.value.code == "secret_unavailable"
    assert not upstream.find(f"bad {marker}")
    assert "wrong-secret-value" not in gateway.stderr_text()


def test_the_model_list_shows_the_resources_deployments_first(azure):
    gateway, key = azure
    models = {m.id: m for m in openai_client(gateway, key["key"]).models.list()}
    # The Azure resource, listed first, answers for the models it has deployments for (not Azure's
    # catalogue); OpenAI's list fills in the rest, each model once.
    assert models["gpt-4o-mini"].owned_by == "azure-eu" and models["text-embedding-3-small"].owned_by == "azure-eu"
    assert "gpt-4o" in models


def test_responses_reach_the_v1_api_with_the_deployment_as_the_model(azure, upstream, marker):
    gateway, key = azure
    raw = openai_client(gateway, key["key"]).responses.with_raw_response.create(model="gpt-4o-mini", input=f"responses {marker}")
    assert raw.http_response.status_code == 200
    request = upstream.only(marker)
    assert request["path"] == "/azure/openai/v1/responses" and request.header("api-key") == AZURE_KEY
    # Azure reads the body's model as a deployment there.
    assert request["body"]["model"] == "chat-prod"
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["provider"] == "azure-eu" and call["model"] == "gpt-4o-mini" and call["operation"] == "responses"
