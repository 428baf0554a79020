"""Provider keys from Azure Key Vault (`azure-kv:`), with tokens from Microsoft Entra ID: workload
identity federation (a Kubernetes-style token file) in one test, client credentials in the other,
against local doubles of both (azure_doubles.py).

Each test asserts the exact key the upstream double received, that a new version is used after
cache_ttl with no failed call, and searches the gateway's database, logs and every CLI output for
the provider keys, the Entra tokens, the client secret and the federated assertions.
"""

from __future__ import annotations

import json
import os
import secrets
import time

from azure_doubles import EntraDouble, InstanceMetadataDouble, KeyVaultDouble
from perimeter_harness import Gateway
from test_secret_stores import (  # noqa: F401 - recorder is a fixture
    Recorder, anthropic_call, assert_grace_then_fail_closed, gateway_config, serve_expecting_failure, new_value, openai_call, recorder, run_serve, secrets_section,
    stop_and_check_leaks, wait_for_new_value,
)

VAULT = "perimeter-e2e"


def fake_assertion() -> str:
    """A stand-in for the projected service-account token (Entra's double only compares it)."""
    return "eyJhbGciOiJSUzI1NiIsImtpZCI6ImUyZSJ9." + secrets.token_urlsafe(48) + "." + secrets.token_urlsafe(32)


def write_atomically(path, text: str) -> None:
    """As the kubelet updates a projected token: a new file renamed over the old one."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text)
    os.replace(temporary, path)


def test_workload_identity_rotation_grace_and_fail_closed(secret_gateway_factory, upstream, recorder, tmp_path):
    token_file = tmp_path / "azure-identity-token"
    assertions = [fake_assertion()]
    token_file.write_text(assertions[0])
    # Short-lived tokens, so the gateway renews them (reading the file again) during the test.
    entra = EntraDouble("tenant-e2e", "app-e2e", assertions=list(assertions), expires_in=4)
    vault = KeyVaultDouble(entra)
    try:
        values = [new_value("akv-1")]
        vault.set_secret("openai-key", values[0])
        reference = f"azure-kv:{VAULT}/openai-key"
        config = gateway_config(
            upstream, [("kv-openai", "openai", reference, ["gpt-*"])],
            secrets_section(cache_ttl=1, grace=3, azure_kv={"workload_identity": True, "endpoint": vault.base}),
        )
        env = {
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file), "AZURE_CLIENT_ID": "app-e2e", "AZURE_TENANT_ID": "tenant-e2e",
            "AZURE_AUTHORITY_HOST": entra.base + "/",
        }
        gw = secret_gateway_factory("akv-workload", config, extra_env=env)
        vkey = recorder.virtual_key(gw)
        assert openai_call(gw, vkey, upstream) == values[0]
        form = entra.requests[0]["form"]
        assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        assert form["client_assertion"] == assertions[0] and form["scope"] == "https://vault.azure.net/.default"
        assert "client_secret" not in form

        # The kubelet rotates the token file and a new version is set in Key Vault.
        assertions.append(fake_assertion())
        entra.assertions.append(assertions[1])
        write_atomically(token_file, assertions[1])
        values.append(new_value("akv-2"))
        vault.set_secret("openai-key", values[1])
        wait_for_new_value({"openai": lambda: openai_call(gw, vkey, upstream)}, {"openai": values[1]}, within=1 + 4)
        deadline = time.monotonic() + 6
        while not any(r["form"].get("client_assertion") == assertions[1] for r in entra.requests):
            assert time.monotonic() < deadline, "the token was not renewed with the rotated token file"
            assert openai_call(gw, vkey, upstream) == values[1]
            time.sleep(0.2)
        assert openai_call(gw, vkey, upstream) == values[1]

        # Key Vault goes away: the last value serves for about the grace (3 s), then calls fail closed.
        assert_grace_then_fail_closed(gw, vkey, reference, vault.stop)

        stop_and_check_leaks([gw], recorder, {
            **{f"key v{i + 1}": v for i, v in enumerate(values)},
            **{f"assertion {i + 1}": a for i, a in enumerate(assertions)},
            **{f"Entra token {i + 1}": t for i, t in enumerate(entra.issued)},
        })
    finally:
        vault.stop()
        entra.stop()


def test_client_credentials_check_pinned_version_and_delivery(secret_gateway_factory, upstream, recorder, tmp_path):
    client_secret = "cs~" + secrets.token_urlsafe(30)
    entra = EntraDouble("contoso-e2e", "app-cc", client_secret=client_secret)
    vault = KeyVaultDouble(entra)
    try:
        openai_v1, anthropic_value = new_value("akv-openai"), new_value("akv-anthropic")
        openai_version = vault.set_secret("openai-key", openai_v1)
        pinned_version = vault.set_secret("anthropic-key", anthropic_value)
        vault.set_secret("anthropic-key", new_value("akv-anthropic-later"))
        openai_reference = f"azure-kv:{VAULT}/openai-key"
        # The secret identifier URL as the portal shows it; kept as azure-kv:VAULT/NAME/VERSION.
        anthropic_url = f"https://{VAULT}.vault.azure.net/secrets/anthropic-key/{pinned_version}"
        config = gateway_config(
            upstream,
            [("kv-openai", "openai", openai_reference, ["gpt-*"]), ("kv-anthropic", "anthropic", anthropic_url, ["claude-*"])],
            secrets_section(cache_ttl=1, azure_kv={
                "tenant_id": "contoso-e2e", "client_id": "app-cc", "client_secret": "env:AZURE_KV_CLIENT_SECRET",
                "authority": entra.base, "endpoint": vault.base,
            }),
        )
        env = {"AZURE_KV_CLIENT_SECRET": client_secret}
        # serve --check reports each version.
        probe = Gateway(tmp_path / "check", config_text=config, admin_token="e2e-admin-check", extra_env=env)
        result = run_serve(probe, "--check", "--json")
        recorder.add(result.stdout, result.stderr)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        by_reference = {entry["reference"]: entry for entry in json.loads(result.stdout)["secrets"]}
        pinned_reference = f"azure-kv:{VAULT}/anthropic-key/{pinned_version}"
        assert by_reference[openai_reference]["version"] == openai_version, by_reference
        assert by_reference[openai_reference]["store"] == "azure-kv", by_reference
        assert by_reference[pinned_reference]["version"] == pinned_version, by_reference
        form = entra.requests[0]["form"]
        assert form["client_secret"] == client_secret and form["scope"] == "https://vault.azure.net/.default"

        gw = secret_gateway_factory("akv-client-credentials", config, extra_env=env)
        vkey = recorder.virtual_key(gw)
        assert openai_call(gw, vkey, upstream) == openai_v1
        assert anthropic_call(gw, vkey, upstream) == anthropic_value
        openai_v2 = new_value("akv-openai-2")
        vault.set_secret("openai-key", openai_v2)
        wait_for_new_value({"openai": lambda: openai_call(gw, vkey, upstream)}, {"openai": openai_v2}, within=1 + 4)
        assert anthropic_call(gw, vkey, upstream) == anthropic_value, "a pinned version must not move"
        # The inventory shows the version in use and its date, for credential_max_age.
        inventory = {c["reference"]: c for c in recorder.cli_json(gw, "inventory")["credentials"]}
        entry = inventory[openai_reference]
        assert entry["store"] == "azure-kv" and entry["version"] == vault.latest("openai-key")["version"], entry
        assert entry["version_date"] and entry["age_days"] == 0, entry

        # A rotated virtual key is delivered as a new version of a Key Vault secret.
        created = recorder.cli_json(gw, "keys", "create", "--name", "akv-app", "--env", "prod",
                                    "--deliver-to", f"azure-kv:{VAULT}/app-key")
        assert vault.latest("app-key")["value"] == created["key"]
        rotated = recorder.cli_json(gw, "keys", "rotate", created["id"], "--grace", "0s")
        assert vault.latest("app-key")["value"] == rotated["key"]["key"] and len(vault.secrets["app-key"]) == 2
        assert openai_call(gw, rotated["key"]["key"], upstream) == openai_v2

        stop_and_check_leaks([gw], recorder, {
            "OpenAI v1": openai_v1, "OpenAI v2": openai_v2, "Anthropic": anthropic_value, "client secret": client_secret,
            **{f"Entra token {i + 1}": t for i, t in enumerate(entra.issued)},
        })
    finally:
        vault.stop()
        entra.stop()


def test_managed_identity_through_the_instance_metadata_endpoint(secret_gateway_factory, upstream, recorder):
    imds = InstanceMetadataDouble(client_id="mi-client-e2e")
    vault = KeyVaultDouble(imds)
    try:
        value = new_value("akv-managed")
        # Set 200 days ago, its attributes changed today: the age is the value's, not the attributes'.
        created = int(time.time()) - 200 * 86400
        vault.set_secret("openai-key", value, created=created)
        updated = vault.touch("openai-key")
        config = gateway_config(
            upstream, [("kv-openai", "openai", f"azure-kv:{VAULT}/openai-key", ["gpt-*"])],
            secrets_section(azure_kv={
                "managed_identity": True, "client_id": "mi-client-e2e", "metadata_endpoint": imds.base, "endpoint": vault.base,
            }),
        )
        gw = secret_gateway_factory("akv-managed", config)
        assert openai_call(gw, recorder.virtual_key(gw), upstream) == value
        request = imds.requests[0]
        assert request["metadata"] == "true" and request["query"]["resource"] == ["https://vault.azure.net"], request
        entry = recorder.cli_json(gw, "inventory")["credentials"][0]
        iso = lambda seconds: time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))  # noqa: E731
        assert entry["version_date"] == iso(created) and entry["version_updated"] == iso(updated), entry
        assert entry["age_days"] == 200 and "over_max_age" in entry["flags"], entry
        stop_and_check_leaks([gw], recorder, {"key": value, **{f"token {i}": t for i, t in enumerate(imds.issued)}})
    finally:
        vault.stop()
        imds.stop()


def test_a_missing_identity_stops_startup_saying_what_to_set(upstream, recorder, tmp_path):
    reference = f"azure-kv:{VAULT}/openai-key"
    without = gateway_config(upstream, [("kv-openai", "openai", reference, ["gpt-*"])])
    output = serve_expecting_failure(Gateway(tmp_path / "none", config_text=without, admin_token="e2e-admin-x"), recorder)
    assert "secrets.azure_kv" in output and "workload_identity" in output, output
    workload = without + secrets_section(azure_kv={"workload_identity": True})
    output = serve_expecting_failure(Gateway(tmp_path / "workload", config_text=workload, admin_token="e2e-admin-y"), recorder)
    assert "AZURE_FEDERATED_TOKEN_FILE" in output and "AZURE_TENANT_ID" in output, output


def test_the_database_password_comes_from_key_vault_before_the_database_opens(secret_gateway_factory, upstream, recorder, tmp_path):
    """database_password: azure-kv:... is read with secrets.azure_kv before PostgreSQL is opened. Here
    PostgreSQL is a closed port: the read is shown by Key Vault's log and by start-up failing at the
    connection, not at the password; a secret Key Vault lacks stops start-up naming database_password.
    With POSTGRES_URL set (scripts/test), the gateway also starts on it."""
    from test_config import serve_expecting_failure as serve_failing

    imds = InstanceMetadataDouble()
    vault = KeyVaultDouble(imds)
    try:
        password = new_value("pg-password")
        vault.set_secret("pg-password", password)
        provider_value = new_value("akv-pg-openai")
        vault.set_secret("openai-key", provider_value)
        azure = secrets_section(azure_kv={"managed_identity": True, "metadata_endpoint": imds.base, "endpoint": vault.base})
        providers = [("kv-openai", "openai", f"azure-kv:{VAULT}/openai-key", ["gpt-*"])]
        config = gateway_config(upstream, providers, azure + f"database_password: azure-kv:{VAULT}/pg-password\n")

        output = serve_failing(tmp_path, config, PERIMETER_DATABASE="postgres://perimeter@127.0.0.1:1/perimeter?sslmode=disable")
        recorder.add(output)
        assert "cannot open PostgreSQL" in output and password not in output, output
        assert any(r["method"] == "GET" and r["path"] == "/secrets/pg-password" for r in vault.requests), vault.requests

        missing = gateway_config(upstream, providers, azure + f"database_password: azure-kv:{VAULT}/nope\n")
        output = serve_failing(tmp_path, missing, PERIMETER_DATABASE="postgres://perimeter@127.0.0.1:1/perimeter?sslmode=disable")
        recorder.add(output)
        assert "database_password" in output and "no secret 'nope'" in output, output

        if os.environ.get("POSTGRES_URL"):
            from test_postgres import fresh_database

            gw = secret_gateway_factory("akv-pg", config, extra_env={"PERIMETER_DATABASE": fresh_database()})
            assert openai_call(gw, recorder.virtual_key(gw), upstream) == provider_value
            stop_and_check_leaks([gw], recorder, {"database password": password, "key": provider_value})
    finally:
        vault.stop()
        imds.stop()


def certificate_pem_file(path, common_name: str = "perimeter-e2e") -> tuple[bytes, bytes]:
    """A new RSA key and a self-signed certificate for it, written to `path` as one PEM (key, then
    certificate), the shape AZURE_CLIENT_CERTIFICATE_PATH takes; returns (certificate PEM, key PEM)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(key_pem + certificate_pem)
    return certificate_pem, key_pem


def test_client_certificate_credentials(secret_gateway_factory, upstream, recorder, tmp_path):
    """tenant_id, client_id and client_certificate_path: the token request carries a client assertion
    the Entra double verifies with the registered certificate's public key (thumbprint, signature, aud,
    iss, sub, lifetime, a fresh jti each time); a certificate Entra does not know stops start-up
    without printing the key."""
    registered = tmp_path / "entra-client.pem"
    certificate_pem, key_pem = certificate_pem_file(registered)
    entra = EntraDouble("contoso-cert", "app-cert", certificate_pem=certificate_pem, expires_in=2)
    vault = KeyVaultDouble(entra)
    try:
        value = new_value("akv-cert")
        vault.set_secret("openai-key", value)

        def config(path) -> str:
            return gateway_config(
                upstream, [("kv-openai", "openai", f"azure-kv:{VAULT}/openai-key", ["gpt-*"])],
                secrets_section(cache_ttl=1, azure_kv={
                    "tenant_id": "contoso-cert", "client_id": "app-cert", "client_certificate_path": str(path),
                    "authority": entra.base, "endpoint": vault.base,
                }),
            )

        gw = secret_gateway_factory("akv-cert", config(registered))
        vkey = recorder.virtual_key(gw)
        assert openai_call(gw, vkey, upstream) == value
        # Tokens live 2 s: renewed with new assertions, each accepted once.
        time.sleep(2.5)
        assert openai_call(gw, vkey, upstream) == value
        forms = [r["form"] for r in entra.requests]
        assert len(forms) >= 2 and all("client_secret" not in f and f["client_assertion"] for f in forms), forms
        assert len(entra.issued) == len(forms), "every assertion was accepted"
        assert len(entra.seen_jti) == len(forms)
        stop_and_check_leaks([gw], recorder, {
            "key": value, "private key": key_pem.decode().splitlines()[1], **{f"token {i}": t for i, t in enumerate(entra.issued)}})

        unknown = tmp_path / "other.pem"
        _, other_key = certificate_pem_file(unknown, "not-registered")
        output = serve_expecting_failure(
            Gateway(tmp_path / "unknown", config_text=config(unknown), admin_token="e2e-admin-cert"), recorder)
        assert "invalid_client" in output and "unknown certificate thumbprint" in output, output
        assert other_key.decode().splitlines()[1] not in output
    finally:
        vault.stop()
        entra.stop()
