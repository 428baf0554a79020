"""Fixtures: the upstream double, a shared gateway with a virtual key, SDK clients, and a factory
for extra gateways that a test starts and stops itself."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

import pytest

from perimeter_harness import Gateway, anthropic_client, config_yaml, openai_client
from secret_servers import MotoSecretsManager, OpenBao
from upstream_double import UpstreamDouble

# The tests' own HTTP clients (SDKs, urllib) talk to 127.0.0.1 only: never through a proxy.
for _name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)
# Vault/OpenBao and AWS settings reach a gateway (or boto3 here) only when a test passes them.
for _name in [n for n in os.environ if n.startswith(("VAULT_", "BAO_", "AWS_"))]:
    os.environ.pop(_name, None)
# google-genai reads its API key, API version and Vertex AI mode from these: the tests pass their own.
for _name in [n for n in os.environ if n.startswith(("GOOGLE_", "GEMINI_"))]:
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


class Secrets:
    """Provider keys and the admin token of a test session, random so they can be searched for."""

    def __init__(self, directory: Path):
        self.openai_key = "sk-upstream-openai-" + secrets.token_hex(20)
        self.anthropic_key = "sk-ant-upstream-" + secrets.token_hex(20)
        self.gemini_key = "AIza-upstream-gemini-" + secrets.token_hex(20)
        self.admin_token = "e2e-admin-" + secrets.token_hex(20)
        self.anthropic_key_file = directory / "anthropic-key"
        self.anthropic_key_file.write_text(self.anthropic_key + "\n")
        self.anthropic_key_file.chmod(0o600)


def pytest_configure(config):
    # The Anthropic SDK warns about model deprecations by name; the tests pick models for their prices.
    config.addinivalue_line("filterwarnings", "ignore:The model .* is deprecated:DeprecationWarning")


@pytest.fixture(scope="session")
def upstream():
    double = UpstreamDouble().start()
    yield double
    double.stop()


@pytest.fixture(scope="session")
def provider_secrets(tmp_path_factory) -> Secrets:
    return Secrets(tmp_path_factory.mktemp("secrets"))


@pytest.fixture(scope="session")
def dead_port():
    """A port bound but never listening: connections to it are refused, and no one else can take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture(scope="session")
def gateway_factory_session(tmp_path_factory, upstream, provider_secrets, dead_port):
    """Starts gateways for the whole session; stops them all (SIGTERM) at the end."""
    started: list[Gateway] = []

    def start(name: str = "gateway", **kwargs) -> Gateway:
        return _start(tmp_path_factory.mktemp(name), name, started, upstream, provider_secrets, dead_port, **kwargs)

    yield start
    _stop_all(started)


@pytest.fixture
def gateway_factory(tmp_path, upstream, provider_secrets, dead_port):
    """Starts gateways for one test; stops them (SIGTERM) when it ends and checks they exited 0."""
    started: list[Gateway] = []
    counter = iter(range(1000))

    def start(name: str = "gateway", **kwargs) -> Gateway:
        directory = tmp_path / f"{name}-{next(counter)}"
        return _start(directory, name, started, upstream, provider_secrets, dead_port, **kwargs)

    yield start
    _stop_all(started)


def _start(directory, name, started, upstream, provider_secrets, dead_port, *, config: dict | None = None,
           with_config: bool = True, admin_token: str | None = "__default__", extra_env=None, **kwargs) -> Gateway:
    config_text = (
        config_yaml(
            double_base=upstream.base,
            anthropic_key_file=provider_secrets.anthropic_key_file,
            dead_port=dead_port,
            **(config or {}),
        )
        if with_config
        else None
    )
    env = {"UPSTREAM_OPENAI_KEY": provider_secrets.openai_key, "UPSTREAM_GEMINI_KEY": provider_secrets.gemini_key}
    env.update(extra_env or {})
    gateway = Gateway(
        directory,
        config_text=config_text,
        admin_token=provider_secrets.admin_token if admin_token == "__default__" else admin_token,
        extra_env=env,
        name=name,
        **kwargs,
    )
    started.append(gateway)
    return gateway.start()


def _stop_all(started: list[Gateway]) -> None:
    failures = []
    for gateway in started:
        if gateway.exit_code is not None and not gateway.running:
            continue  # the test stopped it and checked it itself
        code = gateway.stop(timeout=10)
        if code != 0:
            failures.append(f"{gateway.name} in {gateway.workdir} exited {code} on SIGTERM\n{gateway.stderr_text()[-3000:]}")
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="session")
def gateway(gateway_factory_session) -> Gateway:
    """The shared gateway most tests use."""
    return gateway_factory_session("shared")


@pytest.fixture(scope="session")
def vkey(gateway) -> dict:
    """A virtual key on the shared gateway (the admin API's JSON, plaintext included)."""
    return gateway.create_key("e2e-main", "test", owner="team-e2e")


@pytest.fixture
def oai(gateway, vkey) -> openai.OpenAI:
    return openai_client(gateway, vkey["key"])


@pytest.fixture
def ant(gateway, vkey) -> anthropic.Anthropic:
    return anthropic_client(gateway, vkey["key"])


@pytest.fixture
def marker() -> str:
    """A unique word to put in a prompt, to find the call's request at the upstream double."""
    return "marker-" + secrets.token_hex(8)


# MARK: secret stores (test_secret_stores.py)


@pytest.fixture
def secret_gateway_factory(tmp_path):
    """Starts gateways from a config text of the test's own (no providers added); stops them
    (SIGTERM) when the test ends and checks they exited 0. Keyword arguments go to `Gateway`."""
    started: list[Gateway] = []
    counter = iter(range(1000))

    def start(name: str, config_text: str | None, *, admin_token: str | None = "__default__", **kwargs) -> Gateway:
        directory = tmp_path / f"{name}-{next(counter)}"
        token = "e2e-admin-" + secrets.token_hex(20) if admin_token == "__default__" else admin_token
        gateway = Gateway(directory, config_text=config_text, admin_token=token, name=name, **kwargs)
        started.append(gateway)
        return gateway.start()

    yield start
    _stop_all(started)


@pytest.fixture(scope="session")
def openbao(tmp_path_factory):
    """An OpenBao dev server for the session (KV v2 at secret/); tests use their own paths in it."""
    server = OpenBao(tmp_path_factory.mktemp("openbao")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def openbao_tls(tmp_path_factory):
    """An OpenBao dev server on HTTPS, with its own CA (`ca_file`)."""
    server = OpenBao(tmp_path_factory.mktemp("openbao-tls"), tls=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    """moto's Secrets Manager for the session; tests that kill a store start their own (moto_factory)."""
    server = MotoSecretsManager(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


@pytest.fixture
def moto_factory(tmp_path):
    """Starts moto servers for one test (which may kill them); all are stopped when it ends."""
    started: list[MotoSecretsManager] = []
    counter = iter(range(100))

    def start() -> MotoSecretsManager:
        server = MotoSecretsManager(tmp_path / f"moto-{next(counter)}")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
