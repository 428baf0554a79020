"""Provider calls over TLS: the gateway's own upstream client verifies the provider's certificate
(against a provider's `ca_file` here, the system's roots otherwise) and carries plain and streamed
calls through TLS exactly as over plain HTTP. The double serves HTTPS with a certificate from a CA made
for the test."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import openai
import pytest

from perimeter_harness import Gateway, openai_client
from upstream_double import UpstreamDouble


def make_certificates(directory: Path) -> dict[str, Path]:
    """A test CA, and a server certificate it signed for 127.0.0.1 and localhost."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / name for name in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem", "ext.cnf")}

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(paths["ca.key"]), "-out", str(paths["ca.pem"]),
            "-days", "2", "-subj", "/CN=Perimeter e2e test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(paths["server.key"]), "-out", str(paths["server.csr"]),
            "-subj", "/CN=127.0.0.1")
    paths["ext.cnf"].write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(paths["server.csr"]), "-CA", str(paths["ca.pem"]), "-CAkey", str(paths["ca.key"]),
            "-CAcreateserial", "-out", str(paths["server.pem"]), "-days", "2", "-extfile", str(paths["ext.cnf"]))
    return paths


@pytest.fixture(scope="module")
def tls_setup(tmp_path_factory, provider_secrets):
    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    double = UpstreamDouble(tls=(str(certificates["server.pem"]), str(certificates["server.key"]))).start()
    config = f"""\
listen: 127.0.0.1:0
upstream_timeout: 5
call_log_flush_interval: 50
providers:
  - name: internal
    kind: openai
    base_url: {double.base}/v1
    api_key: env:UPSTREAM_OPENAI_KEY
    ca_file: {certificates["ca.pem"]}
    models: ["gpt-*"]
  - name: untrusted
    kind: openai
    base_url: {double.base}/v1
    api_key: env:UPSTREAM_OPENAI_KEY
    models: ["untrusted-*"]
prices:
  gpt-4o-mini: {{ input: 0.15, output: 0.60, cached_input: 0.075 }}
"""
    gateway = Gateway(
        tmp_path_factory.mktemp("tls-gateway"), config_text=config, admin_token=provider_secrets.admin_token,
        extra_env={"UPSTREAM_OPENAI_KEY": provider_secrets.openai_key}, name="tls").start()
    key = gateway.create_key("tls-app", "dev")["key"]
    yield gateway, double, key, provider_secrets
    assert gateway.stop() == 0
    double.stop()


def test_chat_and_stream_through_tls(tls_setup):
    gateway, double, key, provider_secrets = tls_setup
    client = openai_client(gateway, key)
    for attempt in range(3):  # the second and third calls reuse the pooled TLS connection
        marker = f"tls-plain-{attempt}"
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": marker}])
        assert answer.choices[0].message.content
        assert answer.usage.prompt_tokens > 0
        sent = double.only(marker)
        assert sent.header("authorization") == f"Bearer {provider_secrets.openai_key}"

    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "tls-stream"}], stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text
    double.only("tls-stream")

    deadline = time.monotonic() + 10
    while True:
        calls = [c for c in gateway.calls() if c["provider"] == "internal"]
        if len(calls) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(calls) == 4
    assert all(c["outcome"] == "ok" and c["input_tokens"] > 0 for c in calls)


def test_a_certificate_the_provider_does_not_trust_is_refused(tls_setup):
    gateway, double, key, _ = tls_setup
    before = len(double.requests)
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client(gateway, key).chat.completions.create(
            model="untrusted-model", messages=[{"role": "user", "content": "tls-untrusted"}])
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_unreachable"
    # The handshake failed before any request reached the server.
    assert not double.find("tls-untrusted")
    assert len(double.requests) == before
    call = gateway.wait_for_call(caught.value.response.headers["x-perimeter-request-id"])
    assert call["outcome"] == "upstream_error" and call["provider"] == "untrusted"
