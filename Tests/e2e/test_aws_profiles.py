"""AWS shared-config profiles beyond static keys (issue 19): a role assumed from a source profile with
STS `AssumeRole` on moto, a `credential_process`, both chained, and an SSO profile against a portal
double (moto has no IAM Identity Center portal), each signing AWS Secrets Manager
calls on moto. A recording proxy in front of moto shows which access key signed each call: the
source's for STS, the assumed role's (moto hands out `ASIA...` keys) for Secrets Manager.
"""

from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import re
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from perimeter_harness import Gateway
from secret_servers import AWS_REGION
from test_secret_stores import (  # noqa: F401 - recorder is a fixture
    gateway_config, new_value, openai_call, recorder, serve_expecting_failure, stop_and_check_leaks, unique)

CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


class SigningRecorder:
    """Forwards every request to `target` unchanged and records (service, access key id, STS action)
    from its SigV4 Authorization header and form body."""

    def __init__(self, target: str):
        self.calls: list[tuple[str, str, str]] = []
        host, port = target.removeprefix("http://").split(":")
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                found = CREDENTIAL.search(self.headers.get("authorization", ""))
                action = re.search(r"(?:^|&)Action=([A-Za-z]+)", body.decode(errors="replace"))
                recorder.calls.append((
                    found.group(3) if found else "unsigned", found.group(1) if found else "",
                    action.group(1) if action else self.headers.get("x-amz-target", "")))
                upstream = http.client.HTTPConnection(host, int(port), timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                upstream.request("POST", self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def profile_env(tmp_path: Path, profile: str, config: str, credentials: str, endpoint: str) -> dict[str, str]:
    """Only the shared files name credentials: no AWS_ACCESS_KEY_ID, no instance metadata."""
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(credentials)
    (tmp_path / "credentials").chmod(0o600)
    return {"AWS_PROFILE": profile, "AWS_CONFIG_FILE": str(tmp_path / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "AWS_REGION": AWS_REGION,
            "AWS_ENDPOINT_URL": endpoint, "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)}


def read_through(moto, secret_gateway_factory, upstream, recorder, name: str, env: dict[str, str]):
    secret_name = "perimeter/" + unique(name)
    value = new_value(name)
    moto.create_secret(secret_name, value)
    config = gateway_config(upstream, [("aws-openai", "openai", f"aws-sm:{secret_name}", ["gpt-*"])])
    gw = secret_gateway_factory(name, config, extra_env=env)
    assert openai_call(gw, recorder.virtual_key(gw), upstream) == value
    return gw, value


def test_a_role_assumed_from_a_source_profile(moto, secret_gateway_factory, upstream, recorder, tmp_path):
    """role_arn + source_profile (with external_id and duration_seconds): STS AssumeRole signed with the
    source profile's static key, Secrets Manager signed with the role's temporary key."""
    proxy = SigningRecorder(moto.endpoint)
    source_key, source_secret = "AKIA" + secrets.token_hex(8).upper(), "src-" + secrets.token_hex(16)
    env = profile_env(
        tmp_path, "gateway",
        "[profile gateway]\nrole_arn = arn:aws:iam::123456789012:role/perimeter-reader\nsource_profile = base\n"
        "external_id = perimeter-ext\nduration_seconds = 900\nrole_session_name = perimeter-e2e\n",
        f"[base]\naws_access_key_id = {source_key}\naws_secret_access_key = {source_secret}\n", proxy.url)
    gw, value = read_through(moto, secret_gateway_factory, upstream, recorder, "aws-role", env)
    sts = [call for call in proxy.calls if call[0] == "sts"]
    reads = [call for call in proxy.calls if call[0] == "secretsmanager"]
    assert sts and all(call == ("sts", source_key, "AssumeRole") for call in sts), proxy.calls
    assert reads and all(call[1].startswith("ASIA") and call[1] != source_key for call in reads), proxy.calls
    stop_and_check_leaks([gw], recorder, {"key": value, "source secret": source_secret})
    proxy.server.shutdown()


def test_a_credential_process_and_a_role_assumed_with_its_keys(moto, secret_gateway_factory, upstream, recorder, tmp_path):
    """credential_process prints Version 1 JSON; a second profile assumes a role with those keys. The
    process runs once per renewal (its credentials expire in an hour), and its output never leaks."""
    proxy = SigningRecorder(moto.endpoint)
    process_key, process_secret = "ASIAPROC" + secrets.token_hex(6).upper(), "proc-" + secrets.token_hex(16)
    runs = tmp_path / "runs"
    script = tmp_path / "creds.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"echo run >> '{runs}'\n"
        f"printf '{{\"Version\": 1, \"AccessKeyId\": \"{process_key}\", \"SecretAccessKey\": \"{process_secret}\", "
        f"\"SessionToken\": \"proc-token\", \"Expiration\": \"2099-01-01T00:00:00Z\"}}'\n")
    script.chmod(0o700)
    config = (f"[profile tool]\ncredential_process = {script}\n"
              "[profile reader]\nrole_arn = arn:aws:iam::123456789012:role/perimeter-reader\nsource_profile = tool\n")

    env = profile_env(tmp_path, "tool", config, "", proxy.url)
    gw, value = read_through(moto, secret_gateway_factory, upstream, recorder, "aws-process", env)
    assert {call[1] for call in proxy.calls} == {process_key}, proxy.calls
    assert runs.read_text().count("run") == 1
    stop_and_check_leaks([gw], recorder, {"key": value, "process secret": process_secret})

    proxy.calls.clear()
    env = profile_env(tmp_path, "reader", config, "", proxy.url)
    gw, value = read_through(moto, secret_gateway_factory, upstream, recorder, "aws-process-role", env)
    assert [call for call in proxy.calls if call[0] == "sts"] == [("sts", process_key, "AssumeRole")], proxy.calls
    assert all(call[1].startswith("ASIA") and call[1] != process_key for call in proxy.calls if call[0] == "secretsmanager")
    stop_and_check_leaks([gw], recorder, {"key": value, "process secret": process_secret})
    proxy.server.shutdown()


def test_a_failing_credential_process_stops_startup_without_its_output(moto, secret_gateway_factory, upstream, recorder, tmp_path):
    leaked = "proc-" + secrets.token_hex(16)
    script = tmp_path / "creds.sh"
    script.write_text(f"#!/bin/sh\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"{leaked}\"}}'\nexit 4\n")
    script.chmod(0o700)
    env = profile_env(tmp_path, "tool", f"[profile tool]\ncredential_process = {script}\n", "", moto.endpoint)
    name = "perimeter/" + unique("proc-fail")
    moto.create_secret(name, new_value("proc-fail"))
    config = gateway_config(upstream, [("aws-openai", "openai", f"aws-sm:{name}", ["gpt-*"])])
    gw = Gateway(tmp_path / "gw", config_text=config, admin_token="e2e-admin-proc", extra_env=env)
    output = serve_expecting_failure(gw, recorder)
    assert "exited with status 4" in output and "profile 'tool'" in output, output
    assert leaked not in output


class SSOPortalDouble:
    """The IAM Identity Center portal's GetRoleCredentials: `GET /federation/credentials?role_name=R&account_id=A`
    with the access token in `x-amz-sso_bearer_token`; answers `{"roleCredentials": {accessKeyId,
    secretAccessKey, sessionToken, expiration (epoch milliseconds)}}`, or 401 for another token."""

    def __init__(self, token: str, account: str, role: str):
        self.requests: list[tuple[str, dict, str]] = []
        self.access_key_id = "ASIASSO" + secrets.token_hex(6).upper()
        self.secret_access_key = "sso-" + secrets.token_hex(16)
        double = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                bearer = self.headers.get("x-amz-sso_bearer_token", "")
                double.requests.append((url.path, query, bearer))
                if url.path != "/federation/credentials" or query != {"role_name": role, "account_id": account}:
                    status, body = 400, {"message": "bad request"}
                elif bearer != token:
                    status, body = 401, {"message": "Session token not found or invalid"}
                else:
                    status, body = 200, {"roleCredentials": {
                        "accessKeyId": double.access_key_id, "secretAccessKey": double.secret_access_key,
                        "sessionToken": "sso-session-" + secrets.token_hex(8), "expiration": int((time.time() + 3600) * 1000)}}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def test_an_sso_profile_reads_the_cached_token_and_asks_the_portal(moto, secret_gateway_factory, upstream, recorder, tmp_path):
    """sso_session profile: the token `aws sso login` cached at ~/.aws/sso/cache/SHA1(session).json is
    sent to the portal's GetRoleCredentials; Secrets Manager is signed with the role credentials."""
    token = "aoa" + secrets.token_urlsafe(40)
    portal = SSOPortalDouble(token, "123456789012", "PerimeterReaders")
    proxy = SigningRecorder(moto.endpoint)
    cache = tmp_path / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8 * 3600))
    (cache / (hashlib.sha1(b"corp").hexdigest() + ".json")).write_text(json.dumps({
        "startUrl": "https://corp.awsapps.com/start", "region": "us-east-1", "accessToken": token, "expiresAt": expires}))
    config = ("[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = PerimeterReaders\n"
              "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n")
    env = profile_env(tmp_path, "dev", config, "", proxy.url)
    env["AWS_ENDPOINT_URL_SSO"] = portal.url
    gw, value = read_through(moto, secret_gateway_factory, upstream, recorder, "aws-sso", env)
    assert [(path, bearer == token) for path, _, bearer in portal.requests] == [("/federation/credentials", True)]
    assert {call[1] for call in proxy.calls} == {portal.access_key_id}, proxy.calls
    stop_and_check_leaks([gw], recorder, {"key": value, "SSO token": token, "role secret": portal.secret_access_key})
    proxy.server.shutdown()
    portal.server.shutdown()
