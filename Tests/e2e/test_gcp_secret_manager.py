"""Provider keys from Google Cloud Secret Manager (`gcp-sm:`), with tokens from each of Google's
Application Default Credentials sources: a service-account key (an RS256 JWT the OAuth double
verifies with the key pair's public key), an external account (a Kubernetes-style token file
exchanged at STS, then for a service account's token), and the metadata server. All against local
doubles (google_doubles.py).

Each flow asserts the exact key the upstream double received, that a new version is used after
cache_ttl with no failed call, that the last value serves for the grace while Secret Manager is down
and calls fail closed after it, and searches the gateway's database, logs and every CLI output for
the provider keys, the tokens, the assertions and the private key.
"""

from __future__ import annotations

import base64
import json
import secrets
import time

from google_doubles import GoogleOAuthDouble, MetadataDouble, SecretManagerDouble, STSDouble
from perimeter_harness import Gateway
from test_azure_key_vault import write_atomically
from test_secret_stores import (  # noqa: F401 - recorder is a fixture
    assert_grace_then_fail_closed, assert_unavailable_openai, gateway_config, new_value, openai_call, recorder, run_serve,
    secrets_section, serve_expecting_failure, stop_and_check_leaks, wait_for_new_value,
)

PROJECT = "perimeter-e2e"
SERVICE_ACCOUNT = "perimeter@perimeter-e2e.iam.gserviceaccount.com"
AUDIENCE = "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/k8s/providers/cluster"


def rsa_key_file(path, token_uri: str):
    """A service-account key file as the console downloads it, with a key pair made here."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    key_id = secrets.token_hex(20)
    path.write_text(json.dumps({
        "type": "service_account", "project_id": PROJECT, "private_key_id": key_id, "private_key": pem,
        "client_email": SERVICE_ACCOUNT, "client_id": "100000000000000000001", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri, "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }))
    return key, key_id, pem


def service_account_token() -> str:
    """A stand-in for a projected Kubernetes service-account token (STS's double only compares it)."""
    return "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ." + secrets.token_urlsafe(48) + "." + secrets.token_urlsafe(32)


def new_version_grace_and_fail_closed(gw, vkey, upstream, manager: SecretManagerDouble, reference: str, values: list[str]) -> None:
    """The shared end of each flow: a new version after cache_ttl (1 s) with no failed call, then the
    store goes away: the last value serves for the grace (3 s), then calls fail closed."""
    values.append(new_value("gsm-2"))
    manager.add_version("openai-key", values[-1])
    wait_for_new_value({"openai": lambda: openai_call(gw, vkey, upstream)}, {"openai": values[-1]}, within=1 + 4)
    assert_grace_then_fail_closed(gw, vkey, reference, manager.stop)


def test_service_account_key_rotation_grace_and_fail_closed(secret_gateway_factory, upstream, recorder, tmp_path):
    key_file = tmp_path / "perimeter-sa.json"
    oauth = GoogleOAuthDouble(None, SERVICE_ACCOUNT, "")
    key, key_id, pem = rsa_key_file(key_file, oauth.token_uri)
    # 4-second tokens: the gateway signs new assertions during the test.
    oauth.public_key, oauth.key_id, oauth.expires_in = key.public_key(), key_id, 4
    manager = SecretManagerDouble([oauth])
    try:
        values = [new_value("gsm-sa")]
        manager.add_version("openai-key", values[0])
        reference = f"gcp-sm:projects/{PROJECT}/secrets/openai-key"
        config = gateway_config(
            upstream, [("gsm-openai", "openai", reference, ["gpt-*"])],
            secrets_section(cache_ttl=1, grace=3, gcp_sm={"credentials_file": str(key_file), "endpoint": manager.base}),
        )
        gw = secret_gateway_factory("gsm-service-account", config)
        vkey = recorder.virtual_key(gw)
        assert openai_call(gw, vkey, upstream) == values[0]
        assert oauth.refusals == [], oauth.refusals
        first = oauth.assertions[0]
        assert first["header"] == {"alg": "RS256", "typ": "JWT", "kid": key_id}, first
        assert first["claims"]["exp"] - first["claims"]["iat"] == 3600, first

        # Tokens live 4 s: the gateway renews them (a new signed assertion) while calls go on.
        deadline = time.monotonic() + 8
        while len(oauth.assertions) < 2:
            assert time.monotonic() < deadline, "the token was not renewed"
            assert openai_call(gw, vkey, upstream) == values[0]
            time.sleep(0.2)
        assert oauth.refusals == [], oauth.refusals

        new_version_grace_and_fail_closed(gw, vkey, upstream, manager, reference, values)
        private_key_body = "".join(pem.strip().splitlines()[1:-1])
        stop_and_check_leaks([gw], recorder, {
            **{f"key v{i + 1}": v for i, v in enumerate(values)},
            **{f"assertion {i + 1}": a["jwt"] for i, a in enumerate(oauth.assertions)},
            **{f"token {i + 1}": t for i, t in enumerate(oauth.issued)},
            "private key": private_key_body[40:100],
        })
    finally:
        manager.stop()
        oauth.stop()


def test_external_account_through_sts_and_impersonation(secret_gateway_factory, upstream, recorder, tmp_path):
    token_file = tmp_path / "ksa-token"
    subject_tokens = [service_account_token()]
    token_file.write_text(subject_tokens[0])
    sts = STSDouble(AUDIENCE, list(subject_tokens), SERVICE_ACCOUNT, expires_in=4)
    manager = SecretManagerDouble([sts])
    credentials = tmp_path / "workload-identity.json"
    credentials.write_text(json.dumps({
        "universe_domain": "googleapis.com", "type": "external_account", "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": sts.token_url,
        "credential_source": {"file": str(token_file), "format": {"type": "text"}},
        "service_account_impersonation_url": sts.impersonation_url,
    }))
    try:
        values = [new_value("gsm-wif")]
        manager.add_version("openai-key", values[0])
        reference = f"gcp-sm:projects/{PROJECT}/secrets/openai-key"
        config = gateway_config(
            upstream, [("gsm-openai", "openai", reference, ["gpt-*"])],
            secrets_section(cache_ttl=1, grace=3, gcp_sm={"endpoint": manager.base}),
        )
        # The file comes through GOOGLE_APPLICATION_CREDENTIALS, as GKE or any OIDC platform sets it.
        gw = secret_gateway_factory("gsm-external", config, extra_env={"GOOGLE_APPLICATION_CREDENTIALS": str(credentials)})
        vkey = recorder.virtual_key(gw)
        assert openai_call(gw, vkey, upstream) == values[0]
        assert sts.issued, "Secret Manager must be read with the impersonated service account's token"

        # The kubelet rotates the token file; the old token stops being valid soon after.
        subject_tokens.append(service_account_token())
        sts.subject_tokens.append(subject_tokens[1])
        write_atomically(token_file, subject_tokens[1])
        deadline = time.monotonic() + 8
        while not any(subject_tokens[1].split(".")[1] in r["body"] for r in sts.requests):
            assert time.monotonic() < deadline, "the token was not exchanged again with the rotated token file"
            assert openai_call(gw, vkey, upstream) == values[0]
            time.sleep(0.2)
        sts.subject_tokens.remove(subject_tokens[0])

        new_version_grace_and_fail_closed(gw, vkey, upstream, manager, reference, values)
        stop_and_check_leaks([gw], recorder, {
            **{f"key v{i + 1}": v for i, v in enumerate(values)},
            **{f"subject token {i + 1}": t for i, t in enumerate(subject_tokens)},
            **{f"STS token {i + 1}": t for i, t in enumerate(sts.sts_issued)},
            **{f"IAM token {i + 1}": t for i, t in enumerate(sts.issued)},
        })
    finally:
        manager.stop()
        sts.stop()


def test_metadata_server_check_inventory_and_delivery(secret_gateway_factory, upstream, recorder, tmp_path):
    metadata = MetadataDouble(expires_in=4)
    manager = SecretManagerDouble([metadata])
    try:
        values = [new_value("gsm-gce")]
        first_version = manager.add_version("openai-key", values[0])
        reference = f"gcp-sm:projects/{PROJECT}/secrets/openai-key"
        config = gateway_config(
            upstream, [("gsm-openai", "openai", reference, ["gpt-*"])],
            secrets_section(cache_ttl=1, grace=3, gcp_sm={"endpoint": manager.base}),
        )
        env = {"GCE_METADATA_HOST": metadata.host}
        probe = Gateway(tmp_path / "check", config_text=config, admin_token="e2e-admin-check", extra_env=env)
        result = run_serve(probe, "--check", "--json")
        recorder.add(result.stdout, result.stderr)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        entry = {e["reference"]: e for e in json.loads(result.stdout)["secrets"]}[reference]
        assert entry["store"] == "gcp-sm" and entry["version"] == first_version, entry
        assert metadata.requests[0]["flavor"] == "Google"

        gw = secret_gateway_factory("gsm-metadata", config, extra_env=env)
        vkey = recorder.virtual_key(gw)
        assert openai_call(gw, vkey, upstream) == values[0]
        # The inventory shows the version in use and its creation date, for credential_max_age.
        credential = {c["reference"]: c for c in recorder.cli_json(gw, "inventory")["credentials"]}[reference]
        assert credential["store"] == "gcp-sm" and credential["version"] == first_version, credential
        assert credential["version_date"] and credential["age_days"] == 0, credential

        # A rotated virtual key is delivered as a new version (addVersion with its CRC32C).
        created = recorder.cli_json(gw, "keys", "create", "--name", "gsm-app", "--env", "prod",
                                    "--deliver-to", f"gcp-sm:projects/{PROJECT}/secrets/app-key")
        assert manager.latest("app-key")["value"] == created["key"].encode()
        rotated = recorder.cli_json(gw, "keys", "rotate", created["id"], "--grace", "0s")
        assert manager.latest("app-key")["value"] == rotated["key"]["key"].encode() and len(manager.secrets["app-key"]) == 2
        assert openai_call(gw, rotated["key"]["key"], upstream) == values[0]

        new_version_grace_and_fail_closed(gw, vkey, upstream, manager, reference, values)
        stop_and_check_leaks([gw], recorder, {
            **{f"key v{i + 1}": v for i, v in enumerate(values)},
            **{f"token {i + 1}": t for i, t in enumerate(metadata.issued)},
        })
    finally:
        manager.stop()
        metadata.stop()


def corrupted(value: str) -> str:
    """`value` with the last byte flipped, as SecretManagerDouble.corrupt sends it."""
    return value[:-1] + chr(ord(value[-1]) ^ 0x01)


def test_a_payload_with_a_wrong_crc32c_is_refused_without_printing_it(secret_gateway_factory, upstream, recorder, tmp_path):
    metadata = MetadataDouble()
    manager = SecretManagerDouble([metadata])
    try:
        values = [new_value("gsm-good")]
        manager.add_version("openai-key", values[0])
        reference = f"gcp-sm:projects/{PROJECT}/secrets/openai-key"
        config = gateway_config(
            upstream, [("gsm-openai", "openai", reference, ["gpt-*"])], secrets_section(cache_ttl=1, gcp_sm={"endpoint": manager.base}))
        env = {"GCE_METADATA_HOST": metadata.host}
        gw = secret_gateway_factory("gsm-corrupt", config, extra_env=env)
        vkey = recorder.virtual_key(gw)
        assert openai_call(gw, vkey, upstream) == values[0]

        # The next version arrives damaged: it is never used, and the value is dropped (502 secret_unavailable).
        values.append(new_value("gsm-damaged"))
        manager.add_version("openai-key", values[1])
        manager.corrupt = True
        deadline = time.monotonic() + 6
        while True:
            try:
                assert openai_call(gw, vkey, upstream) == values[0]
            except Exception:  # noqa: BLE001 - the first refused call ends the loop; it must be secret_unavailable
                break
            assert time.monotonic() < deadline, "the damaged payload did not stop the old value being used"
            time.sleep(0.2)
        assert_unavailable_openai(gw, vkey, upstream)
        assert "CRC32C" in gw.stderr_text(), gw.stderr_text()[-2000:]
        assert not any(corrupted(values[1]) in (r.header("authorization") or "") for r in upstream.requests)

        # serve --check and serve refuse it at start, saying why without printing it.
        probe = Gateway(tmp_path / "check", config_text=config, admin_token="e2e-admin-check", extra_env=env)
        result = run_serve(probe, "--check")
        recorder.add(result.stdout, result.stderr)
        assert result.returncode == 1 and "CRC32C" in result.stdout + result.stderr, f"{result.stdout}\n{result.stderr}"
        output = serve_expecting_failure(Gateway(tmp_path / "serve", config_text=config, admin_token="e2e-admin-s", extra_env=env), recorder)
        assert "CRC32C" in output, output

        encoded = [base64.b64encode(v.encode()).decode() for v in values + [corrupted(values[1])]]
        stop_and_check_leaks([gw], recorder, {
            "key v1": values[0], "key v2": values[1], "damaged v2": corrupted(values[1]),
            **{f"base64 {i}": e for i, e in enumerate(encoded)}, **{f"token {i}": t for i, t in enumerate(metadata.issued)},
        })
    finally:
        manager.stop()
        metadata.stop()


def test_unusable_credentials_stop_startup_saying_what_to_fix(upstream, recorder, tmp_path):
    reference = f"gcp-sm:projects/{PROJECT}/secrets/openai-key"
    user = tmp_path / "adc.json"
    user.write_text(json.dumps({"type": "authorized_user", "client_id": "x", "client_secret": "gcloud-secret", "refresh_token": "1//r"}))
    config = gateway_config(upstream, [("gsm-openai", "openai", reference, ["gpt-*"])],
                            secrets_section(gcp_sm={"credentials_file": str(user)}))
    output = serve_expecting_failure(Gateway(tmp_path / "user", config_text=config, admin_token="e2e-admin-x"), recorder)
    assert "authorized_user" in output and "secrets.gcp_sm.credentials_file" in output, output
    assert "gcloud-secret" not in output and "1//r" not in output, output
    missing = gateway_config(upstream, [("gsm-openai", "openai", reference, ["gpt-*"])],
                             secrets_section(gcp_sm={"credentials_file": str(tmp_path / "absent.json")}))
    output = serve_expecting_failure(Gateway(tmp_path / "missing", config_text=missing, admin_token="e2e-admin-y"), recorder)
    assert "cannot read the Google credentials file" in output, output
