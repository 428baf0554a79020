"""Amazon Bedrock (`kind: bedrock`) through boto3's bedrock-runtime client, with only `endpoint_url` and
the bearer token (`AWS_BEARER_TOKEN_BEDROCK`, the virtual key) changed: converse, converse_stream,
invoke_model and invoke_model_with_response_stream reach a double of Bedrock that checks the gateway's
SigV4 signature with botocore's signer (or the Bedrock API key), never see the virtual key, and are
metered, priced, limited and logged as every other provider. boto3 sends a bearer token over HTTPS
only, so the client reaches the gateway through a TLS terminator, as in production.

Streams are AWS's binary event stream: the gateway forwards whole, checked messages only, so a stream
cut upstream (or carrying a bad CRC) ends at a message boundary and is billed by estimate."""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import socket
import ssl
import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import bedrock_double as bd
from perimeter_harness import expected_cost_nanos, nanos
from test_scan import commit_file, make_repo
from test_tls_upstream import make_certificates

# A long-term Bedrock API key: "ABSK" + base64 of "BedrockAPIKey-<id>-at-<account>:<secret>".
API_KEY = "ABSK" + base64.b64encode(
    f"BedrockAPIKey-{secrets.token_hex(2)}-at-{secrets.randbelow(10**12):012d}:{secrets.token_urlsafe(30)}".encode()).decode()
CLAUDE = "us.anthropic.claude-sonnet-4-20250514-v1:0"
APP_PROFILE = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6"
LLAMA = "meta.llama3-3-70b-instruct-v1:0"
SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_PRICE = {"input": 3, "output": 15, "cached_input": 0.30, "cache_write": 3.75}
CONVERSE_USAGE = {
    "input_tokens": bd.CONVERSE_INPUT + bd.CONVERSE_CACHE_READ + bd.CONVERSE_CACHE_WRITE,
    "cached_input_tokens": bd.CONVERSE_CACHE_READ, "cache_write_tokens": bd.CONVERSE_CACHE_WRITE,
    "output_tokens": bd.CONVERSE_OUTPUT,
}
INVOKE_USAGE = {
    "input_tokens": bd.INVOKE_INPUT + bd.INVOKE_CACHE_READ, "cached_input_tokens": bd.INVOKE_CACHE_READ,
    "cache_write_tokens": 0, "output_tokens": bd.INVOKE_OUTPUT,
}


class TLSTerminator:
    """Accepts TLS on a local port and passes the bytes to the gateway's plain port."""

    def __init__(self, target_port: int, certificate: str, key: str):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate, key)
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            secure = self.context.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=60)
        except OSError:
            client.close()
            return

        def pump(source, sink) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for end in (source, sink):
                    try:
                        end.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, secure), daemon=True).start()
        pump(secure, upstream)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def bedrock(gateway_factory_session, tmp_path_factory):
    double = bd.BedrockDouble(API_KEY).start()
    providers = (
        # Llama through a Bedrock API key; everything else signed with SigV4.
        f"  - name: bedrock-key\n    kind: bedrock\n    region: us-east-1\n    base_url: {double.base}\n"
        "    api_key: env:BEDROCK_API_KEY\n    models: [\"meta.*\"]\n"
        f"  - name: bedrock-aws\n    kind: bedrock\n    region: {bd.REGION}\n    base_url: {double.base}\n"
        "    aws_access_key_id: env:AWS_KEY_ID\n    aws_secret_access_key: env:AWS_SECRET\n"
        # Listed before the Anthropic provider: Anthropic's clients reach these models on Bedrock.
        f"    anthropic_models: {{ claude-sonnet-4-5: \"{SONNET_45}\", claude-throttled: \"anthropic.throttled-v1:0\" }}\n"
        # One account's application inference profiles, listed by ARN: `*` above does not open them.
        f"  - name: bedrock-profiles\n    kind: bedrock\n    region: {bd.REGION}\n    base_url: {double.base}\n"
        "    aws_access_key_id: env:AWS_KEY_ID\n    aws_secret_access_key: env:AWS_SECRET\n"
        f"    models: [\"{APP_PROFILE.rsplit('/', 1)[0]}/*\"]\n"
    )
    gateway = gateway_factory_session(
        "bedrock", config={"extra_providers": providers},
        extra_env={"BEDROCK_API_KEY": API_KEY, "AWS_KEY_ID": bd.ACCESS_KEY_ID, "AWS_SECRET": bd.SECRET_ACCESS_KEY})
    certificates = make_certificates(tmp_path_factory.mktemp("bedrock-tls"))
    terminator = TLSTerminator(int(gateway.url.rsplit(":", 1)[1]), str(certificates["server.pem"]), str(certificates["server.key"]))
    yield gateway, double, terminator, str(certificates["ca.pem"])
    terminator.close()
    double.stop()


def client(bedrock, key: str, monkeypatch):
    gateway, _, terminator, ca = bedrock
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", key)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=terminator.url, verify=ca,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30))


def new_key(gateway, *flags: str, budget: bool = True) -> dict:
    """A key with a budget (the test double's special models have no price: keys for them have none)."""
    return gateway.cli_json("keys", "create", "--name", "br-" + secrets.token_hex(4), "--env", "test",
                            *(["--budget", "5"] if budget else []), *flags)


def request_id(response: dict) -> str:
    return response["ResponseMetadata"]["HTTPHeaders"]["x-perimeter-request-id"]


def usage_of(call: dict) -> dict:
    return {name: call[name] for name in CONVERSE_USAGE}


def assert_upstream(request: dict, key: dict, auth: str) -> None:
    assert request["auth"] == auth
    assert key["key"] not in request["raw"] and all(key["key"] not in value for _, value in request["headers"])


def messages(marker: str) -> list[dict]:
    return [{"role": "user", "content": [{"text": f"hello {marker}"}]}]


def test_converse_is_signed_metered_and_priced(bedrock, monkeypatch, marker):
    gateway, double, _, _ = bedrock
    key = new_key(gateway)
    brt = client(bedrock, key["key"], monkeypatch)
    response = brt.converse(modelId=CLAUDE, messages=messages(marker), inferenceConfig={"maxTokens": 100})
    assert response["output"]["message"]["content"][0]["text"] == "Bedrock answers in pieces"
    assert response["usage"]["inputTokens"] == bd.CONVERSE_INPUT
    upstream = double.only(marker)
    assert upstream["model"] == CLAUDE and upstream["action"] == "converse"
    # The model id's ':' went upstream encoded, as the AWS SDKs send it, and the signature held.
    assert "%3A0/converse" in upstream["path"]
    assert_upstream(upstream, key, "sigv4")
    call = gateway.wait_for_call(request_id(response))
    assert call["provider"] == "bedrock-aws" and call["model"] == CLAUDE and call["operation"] == "converse"
    assert call["outcome"] == "ok" and call["stream"] is False and call["usage_source"] == "provider"
    assert usage_of(call) == CONVERSE_USAGE
    assert nanos(call["cost_usd"]) == expected_cost_nanos(CONVERSE_USAGE, SONNET_PRICE)


def test_converse_stream_passes_the_event_stream_and_meters_its_metadata(bedrock, monkeypatch, marker):
    gateway, double, _, _ = bedrock
    key = new_key(gateway)
    response = client(bedrock, key["key"], monkeypatch).converse_stream(modelId=CLAUDE, messages=messages(marker))
    events = list(response["stream"])
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "".join(bd.PIECES)
    assert events[-1]["metadata"]["usage"]["outputTokens"] == bd.CONVERSE_OUTPUT
    assert_upstream(double.only(marker), key, "sigv4")
    call = gateway.wait_for_call(request_id(response))
    assert call["stream"] is True and call["outcome"] == "ok" and call["usage_source"] == "provider"
    assert usage_of(call) == CONVERSE_USAGE


def test_invoke_model_with_anthropic_body_and_stream(bedrock, monkeypatch, marker):
    gateway, double, _, _ = bedrock
    key = new_key(gateway)
    brt = client(bedrock, key["key"], monkeypatch)
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
            "messages": [{"role": "user", "content": f"invoke {marker}"}]}
    response = brt.invoke_model(modelId=CLAUDE, body=json.dumps(body))
    assert json.loads(response["body"].read())["usage"]["output_tokens"] == bd.INVOKE_OUTPUT
    assert_upstream(double.only(f"invoke {marker}"), key, "sigv4")
    call = gateway.wait_for_call(request_id(response))
    assert call["operation"] == "invoke" and usage_of(call) == INVOKE_USAGE
    assert nanos(call["cost_usd"]) == expected_cost_nanos(INVOKE_USAGE, SONNET_PRICE)

    body["messages"][0]["content"] = f"invoke-stream {marker}"
    response = brt.invoke_model_with_response_stream(modelId=CLAUDE, body=json.dumps(body))
    chunks = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]
    assert chunks[-1]["type"] == "message_stop" and "amazon-bedrock-invocationMetrics" in chunks[-1]
    call = gateway.wait_for_call(request_id(response))
    assert call["stream"] is True and call["outcome"] == "ok" and usage_of(call) == INVOKE_USAGE


def test_invoke_model_of_another_vendor_uses_the_api_key_and_the_token_headers(bedrock, monkeypatch, marker):
    gateway, double, _, _ = bedrock
    key = new_key(gateway)
    response = client(bedrock, key["key"], monkeypatch).invoke_model(
        modelId=LLAMA, body=json.dumps({"prompt": f"llama {marker}", "max_gen_len": 50}))
    assert json.loads(response["body"].read())["generation"] == "Bedrock answers"
    upstream = double.only(marker)
    assert_upstream(upstream, key, "bearer")
    call = gateway.wait_for_call(request_id(response))
    assert call["provider"] == "bedrock-key" and call["usage_source"] == "provider"
    assert (call["input_tokens"], call["output_tokens"]) == (bd.LLAMA_INPUT, bd.LLAMA_OUTPUT)
    # Llama 3.3 70B on Bedrock: $0.72 per million tokens in and out.
    usage = {"input_tokens": bd.LLAMA_INPUT, "cached_input_tokens": 0, "output_tokens": bd.LLAMA_OUTPUT}
    assert nanos(call["cost_usd"]) == expected_cost_nanos(usage, {"input": 0.72, "output": 0.72})


def raw_stream(bedrock, key: str, model: str, marker: str) -> tuple[int, bytes, dict]:
    """Status, every body byte that arrived (the gateway breaks the connection after a cut), headers."""
    host, port = bedrock[0].url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("POST", f"/model/{model.replace(':', '%3A')}/converse-stream",
                       json.dumps({"messages": messages(marker)}).encode(),
                       {"authorization": f"Bearer {key}", "content-type": "application/json"})
    response = connection.getresponse()
    try:
        data = response.read()
    except http.client.IncompleteRead as cut:
        data = cut.partial
    connection.close()
    return response.status, data, response.headers


@pytest.mark.parametrize("model", ["anthropic.cut-stream-v1:0", "anthropic.bad-crc-v1:0"])
def test_a_broken_stream_ends_at_a_message_boundary_and_is_billed(bedrock, model, marker):
    gateway = bedrock[0]
    key = new_key(gateway, budget=False)
    status, data, headers = raw_stream(bedrock, key["key"], model, marker)
    assert status == 200
    # Every byte the client got is a whole message with valid CRCs: nothing after the break.
    messages_received, rest = bd.parse_messages(data)
    assert rest == b"" and len(messages_received) == (3 if "cut" in model else 2)
    call = gateway.wait_for_call(headers["x-perimeter-request-id"])
    assert call["outcome"] == "stream_cut" and call["usage_source"] == "estimated"
    assert call["input_tokens"] > 0 and call["output_tokens"] >= 2


def test_a_client_that_leaves_a_stream_early_still_pays(bedrock, monkeypatch, marker):
    """The attacker's way to spend without being charged: read the first event, hang up before the
    usage. The call is client_cancelled and charged by estimate, never nothing."""
    gateway = bedrock[0]
    key = new_key(gateway, budget=False)
    response = client(bedrock, key["key"], monkeypatch).converse_stream(
        modelId="anthropic.slow-stream-v1:0", messages=messages(marker))
    stream = iter(response["stream"])
    assert "messageStart" in next(stream)
    response["stream"]._raw_stream.close()
    call = gateway.wait_for_call(request_id(response), timeout=15)
    assert call["outcome"] == "client_cancelled" and call["usage_source"] == "estimated"
    # The request's input ceiling at least, and the output relayed before the client left.
    assert call["input_tokens"] >= len(json.dumps({"messages": messages(marker)}))


def test_an_exception_message_passes_to_the_client_and_marks_the_call(bedrock, monkeypatch, marker):
    gateway = bedrock[0]
    key = new_key(gateway, budget=False)
    response = client(bedrock, key["key"], monkeypatch).converse_stream(
        modelId="anthropic.exception-stream-v1:0", messages=messages(marker))
    with pytest.raises(Exception, match="model failed|modelStreamErrorException"):
        list(response["stream"])
    call = gateway.wait_for_call(request_id(response))
    assert call["outcome"] == "stream_cut" and call["error_code"] == "modelStreamErrorException"


def client_error(call) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def test_limits_refuse_in_bedrocks_error_shape(bedrock, monkeypatch, marker):
    gateway, double, _, _ = bedrock
    convo = messages(marker)
    # A key for other models.
    brt = client(bedrock, new_key(gateway, "--models", "meta.*")["key"], monkeypatch)
    error = client_error(lambda: brt.converse(modelId=CLAUDE, messages=convo))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Tools denied: a Converse toolConfig is refused.
    brt = client(bedrock, new_key(gateway, "--tools", "deny")["key"], monkeypatch)
    tools = {"tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}]}
    error = client_error(lambda: brt.converse(modelId=CLAUDE, messages=convo, toolConfig=tools))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    # Providers: a key for bedrock-key only cannot reach Claude, which only bedrock-aws serves.
    brt = client(bedrock, new_key(gateway, "--providers", "bedrock-key")["key"], monkeypatch)
    error = client_error(lambda: brt.converse(modelId=CLAUDE, messages=convo))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert "provider" in error.response["Error"]["Message"]
    # Another address's key, and a key for other operations.
    brt = client(bedrock, new_key(gateway, "--allow-ip", "10.9.8.0/24")["key"], monkeypatch)
    error = client_error(lambda: brt.converse(modelId=CLAUDE, messages=convo))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    brt = client(bedrock, new_key(gateway, "--operations", "converse")["key"], monkeypatch)
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": convo})
    error = client_error(lambda: brt.invoke_model(modelId=CLAUDE, body=body))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    # Tools handed to Claude inside additionalModelRequestFields are tools too.
    brt = client(bedrock, new_key(gateway, "--tools", "deny")["key"], monkeypatch)
    fields = {"tools": [{"type": "computer_20250124", "name": "computer", "display_width_px": 1024, "display_height_px": 768}]}
    error = client_error(lambda: brt.converse(modelId=CLAUDE, messages=convo, additionalModelRequestFields=fields))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    # Options Bedrock bills beyond tokens (a priority tier, a guardrail), in the body or a header: a
    # budgeted key is refused them, since they cannot be priced.
    brt = client(bedrock, new_key(gateway)["key"], monkeypatch)
    error = client_error(lambda: brt.converse(
        modelId=CLAUDE, messages=convo, guardrailConfig={"guardrailIdentifier": "g-1", "guardrailVersion": "1"}))
    assert error.response["Error"]["Code"] == "AccessDeniedException" and "bedrock_guardrail" in error.response["Error"]["Message"]
    key = new_key(gateway)["key"]
    for header, value, feature in (("x-amzn-bedrock-service-tier", "priority", "bedrock_service_tier_priority"),
                                   ("x-amzn-bedrock-guardrailidentifier", "g-1", "bedrock_guardrail")):
        status, _, data = gateway.http(
            "POST", f"/model/{CLAUDE.replace(':', '%3A')}/invoke",
            json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": convo}).encode(),
            {"authorization": f"Bearer {key}", "content-type": "application/json", header: value})
        assert status == 403 and json.loads(data)["reason"] == "price_unknown" and feature in data.decode(), data
    # An unknown key.
    brt = client(bedrock, "pk-test-" + "x" * 40, monkeypatch)
    error = client_error(lambda: brt.converse(modelId=CLAUDE, messages=convo))
    assert error.response["Error"]["Code"] == "UnrecognizedClientException"
    # A model id that is not a plain name never goes upstream.
    brt = client(bedrock, new_key(gateway)["key"], monkeypatch)
    error = client_error(lambda: brt.converse(modelId="arn:aws:bedrock:us-east-1::x/y", messages=convo))
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)
    assert double.find(marker) == []


def test_model_arns_are_served_as_their_models_and_account_resources_only_where_listed(bedrock, monkeypatch, marker):
    gateway, double, _, _ = bedrock
    key = new_key(gateway)
    brt = client(bedrock, key["key"], monkeypatch)
    # A cross-region profile's ARN and a foundation model's ARN are the models they name: routed, limited,
    # priced and sent upstream as the plain id (the client's account id goes nowhere).
    for arn, model in ((f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{CLAUDE}", CLAUDE),
                       ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
                        "anthropic.claude-3-haiku-20240307-v1:0")):
        tag = f"{marker}-{len(model)}"
        response = brt.converse(modelId=arn, messages=messages(tag))
        assert double.only(tag)["model"] == model
        call = gateway.wait_for_call(request_id(response))
        assert call["model"] == model and call["provider"] == "bedrock-aws" and nanos(call["cost_usd"]) > 0
    # A key held to Claude models is held to them through an ARN too.
    held = new_key(gateway, "--models", "us.anthropic.*")
    error = client_error(lambda: client(bedrock, held["key"], monkeypatch).converse(
        modelId=f"arn:aws:bedrock:us-east-1::foundation-model/{LLAMA}", messages=messages(marker + "-held")))
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # An account's own resource goes only to the provider that lists its ARN, signed, the ARN encoded
    # in the path; it has no list price, so a key with a budget is refused it until config prices it.
    free = new_key(gateway, budget=False)
    response = client(bedrock, free["key"], monkeypatch).converse(modelId=APP_PROFILE, messages=messages(marker + "-app"))
    upstream = double.only(marker + "-app")
    assert upstream["model"] == APP_PROFILE and upstream["auth"] == "sigv4" and "%2Fa1b2c3d4e5f6/converse" in upstream["path"]
    assert gateway.wait_for_call(request_id(response))["provider"] == "bedrock-profiles"
    error = client_error(lambda: brt.converse(modelId=APP_PROFILE, messages=messages(marker + "-priced")))
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403 and "price" in str(error.response)
    # Another account's resource is served by no provider, whatever the key's budget.
    other = APP_PROFILE.replace("111122223333", "444455556666")
    free_client = client(bedrock, free["key"], monkeypatch)
    error = client_error(lambda: free_client.converse(modelId=other, messages=messages(marker + "-other")))
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    for bad in ("arn:aws:bedrock:us-east-1::foundation-model/../x", "arn:aws:s3:::bucket/key",
                "arn:aws:bedrock:us-east-1:12:provisioned-model/x"):
        error = client_error(lambda: brt.converse(modelId=bad, messages=messages(marker + "-bad")))
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)
    assert double.find(marker + "-other") == [] and double.find(marker + "-bad") == []
    assert double.find(marker + "-held") == [] and double.find(marker + "-priced") == []


def test_bedrock_signs_with_the_instance_role_when_aws_credentials_is_default(gateway_factory, marker):
    """`aws_credentials: default`: no key in config, the AWS default chain's credentials (here an EC2
    role from IMDSv2) sign each call, and Bedrock's double verifies the signature."""
    from test_secret_stores import IMDSv2Double

    double = bd.BedrockDouble(API_KEY).start()
    imds = IMDSv2Double(bd.ACCESS_KEY_ID, bd.SECRET_ACCESS_KEY)
    providers = (f"  - {{ name: bedrock-role, kind: bedrock, region: {bd.REGION}, base_url: \"{double.base}\", aws_credentials: default,"
                 " models: [\"amazon.*\"] }\n")
    gateway = gateway_factory("bedrock-role", config={"extra_providers": providers}, extra_env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url})
    try:
        key = gateway.cli_json("keys", "create", "--name", "role", "--env", "test")["key"]
        status, _, data = gateway.http(
            "POST", "/model/amazon.nova-lite-v1%3A0/converse", json.dumps({"messages": messages(marker)}).encode(),
            {"authorization": f"Bearer {key}", "content-type": "application/json"})
        assert status == 200, data
        assert double.only(marker)["auth"] == "sigv4"
        assert imds.requests[0] == ("PUT", "/latest/api/token", True) and all(has for _, _, has in imds.requests)
        assert bd.SECRET_ACCESS_KEY not in gateway.stderr_text()
    finally:
        double.stop()
        imds.server.shutdown()


def test_a_budget_runs_out_on_bedrock_too(bedrock, monkeypatch, marker):
    gateway = bedrock[0]
    key = gateway.cli_json("keys", "create", "--name", "br-tiny", "--env", "test", "--budget", "0.000001")
    brt = client(bedrock, key["key"], monkeypatch)
    error = client_error(lambda: brt.converse(modelId=CLAUDE, messages=messages(marker)))
    assert error.response["Error"]["Code"] in ("ThrottlingException", "AccessDeniedException")
    call = gateway.calls("--key", key["id"])[0]
    assert call["error_code"] == "budget_exceeded"


def test_upstream_errors_pass_through_with_their_type(bedrock, monkeypatch, marker):
    gateway = bedrock[0]
    brt = client(bedrock, new_key(gateway, budget=False)["key"], monkeypatch)
    error = client_error(lambda: brt.converse(modelId="anthropic.throttled-v1:0", messages=messages(marker)))
    assert error.response["Error"]["Code"] == "ThrottlingException"
    call = gateway.wait_for_call(error.response["ResponseMetadata"]["HTTPHeaders"]["x-perimeter-request-id"])
    assert call["outcome"] == "upstream_error" and call["error_code"] == "ThrottlingException"


def test_aws_account_details_in_an_upstream_error_are_redacted(bedrock, monkeypatch, marker):
    gateway = bedrock[0]
    brt = client(bedrock, new_key(gateway, budget=False)["key"], monkeypatch)
    error = client_error(lambda: brt.converse(modelId="anthropic.denied-v1:0", messages=messages(marker)))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    text = json.dumps(error.response)
    assert "123456789012" not in text and bd.ACCESS_KEY_ID not in text and "gateway-" not in text
    assert "[redacted]" in error.response["Error"]["Message"]


def test_calls_and_metrics_name_the_provider(bedrock, monkeypatch, marker):
    gateway = bedrock[0]
    key = new_key(gateway)
    response = client(bedrock, key["key"], monkeypatch).converse(modelId=CLAUDE, messages=messages(marker))
    gateway.wait_for_call(request_id(response))
    text = gateway.cli("calls", "--key", key["id"]).stdout
    assert "bedrock-aws" in text and "converse" in text
    status, _, body = gateway.http("GET", "/metrics")
    assert status == 200 and b'provider="bedrock-aws"' in body


def test_the_anthropic_sdks_bedrock_client_works_through_the_gateway(bedrock, marker):
    """anthropic.AnthropicBedrock with the virtual key as its api_key (a Bedrock bearer token) and the
    gateway as base_url: Messages over InvokeModel, streamed and not, with the SDK's own event-stream decoder."""
    import anthropic

    gateway, double, _, _ = bedrock
    key = new_key(gateway)
    client = anthropic.AnthropicBedrock(api_key=key["key"], base_url=gateway.url, aws_region="us-east-1", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": f"sdk {marker}"}])
    message = raw.parse()
    assert message.content[0].text == "Bedrock answers in pieces" and message.usage.output_tokens == bd.INVOKE_OUTPUT
    assert_upstream(double.only(f"sdk {marker}"), key, "sigv4")
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert call["operation"] == "invoke" and usage_of(call) == INVOKE_USAGE

    with client.messages.stream(model=CLAUDE, max_tokens=64,
                                messages=[{"role": "user", "content": f"sdk-stream {marker}"}]) as stream:
        assert stream.get_final_text() == "".join(bd.PIECES)
        request_id_header = stream.response.headers["x-perimeter-request-id"]
    call = gateway.wait_for_call(request_id_header)
    assert call["stream"] is True and call["outcome"] == "ok" and usage_of(call) == INVOKE_USAGE


def test_the_scanner_tells_which_bedrock_credential_leaked(bedrock, tmp_path):
    gateway = bedrock[0]
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "deploy.env", f"AWS_BEARER_TOKEN_BEDROCK={API_KEY}\naws_access_key_id={bd.ACCESS_KEY_ID}\n"
                f"aws_secret_access_key={bd.SECRET_ACCESS_KEY}\n")
    result = gateway.cli("scan", str(repo), "--json", check=False)
    assert result.returncode == 1, result.stderr
    findings = {f["rule"]: f for f in json.loads(result.stdout)["findings"]}
    assert findings["aws-bedrock-api-key"]["credential_reference"] == "env:BEDROCK_API_KEY"
    assert findings["aws-access-key-id"]["credential_reference"] == "env:AWS_KEY_ID"
    assert findings["aws-secret-access-key"]["credential_reference"] == "env:AWS_SECRET"
    for secret in (API_KEY, bd.SECRET_ACCESS_KEY):
        assert secret not in result.stdout + result.stderr + gateway.stdout_text() + gateway.stderr_text()


def test_an_anthropic_client_reaches_claude_on_bedrock_by_configuration_order(bedrock, upstream, marker):
    """`anthropic_models` on a Bedrock provider listed before the Anthropic one: the Anthropic SDK's Messages
    calls for those models go to Bedrock's InvokeModel (streamed as Anthropic's events), while a key
    limited to the Anthropic provider still reaches Anthropic itself."""
    import anthropic

    gateway, double, _, _ = bedrock
    key = new_key(gateway)
    client = anthropic.Anthropic(api_key=key["key"], base_url=gateway.url, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": f"routed {marker}"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"})
    assert raw.parse().content[0].text == "Bedrock answers in pieces"
    sent = double.only(f"routed {marker}")
    assert (sent["model"], sent["action"]) == (SONNET_45, "invoke")
    assert_upstream(sent, key, "sigv4")
    body = json.loads(sent["raw"])
    assert "model" not in body and "stream" not in body and body["anthropic_version"] == "bedrock-2023-05-31"
    assert body["anthropic_beta"] == ["context-1m-2025-08-07"]
    assert all(name.lower() not in ("anthropic-version", "anthropic-beta", "x-api-key") for name, _ in sent["headers"])
    call = gateway.wait_for_call(raw.headers["x-perimeter-request-id"])
    assert (call["provider"], call["model"], call["operation"]) == ("bedrock-aws", "claude-sonnet-4-5", "messages")
    assert usage_of(call) == INVOKE_USAGE
    assert nanos(call["cost_usd"]) == expected_cost_nanos(INVOKE_USAGE, SONNET_PRICE)

    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64,
                                messages=[{"role": "user", "content": f"routed-stream {marker}"}]) as stream:
        assert stream.get_final_text() == "".join(bd.PIECES)
        assert stream.get_final_message().usage.output_tokens == bd.INVOKE_OUTPUT
        streamed_id = stream.response.headers["x-perimeter-request-id"]
        assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert double.only(f"routed-stream {marker}")["action"] == "invoke-with-response-stream"
    call = gateway.wait_for_call(streamed_id)
    assert call["stream"] is True and call["outcome"] == "ok" and call["provider"] == "bedrock-aws"
    assert usage_of(call) == INVOKE_USAGE

    # Bedrock's errors reach the client in Anthropic's shape.
    unpriced = anthropic.Anthropic(api_key=new_key(gateway, budget=False)["key"], base_url=gateway.url, max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as caught:
        unpriced.messages.create(model="claude-throttled", max_tokens=8, messages=[{"role": "user", "content": marker}])
    assert caught.value.body["error"]["type"] == "rate_limit_error"

    # A key limited to the Anthropic provider: the same model, served by Anthropic.
    direct = new_key(gateway, "--providers", "anthropic")
    client = anthropic.Anthropic(api_key=direct["key"], base_url=gateway.url, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": f"direct {marker}"}])
    assert upstream.only(f"direct {marker}") and double.find(f"direct {marker}") == []
    assert gateway.wait_for_call(raw.headers["x-perimeter-request-id"])["provider"] == "anthropic"
