"""Local doubles of Microsoft Entra ID's token endpoint and of an Azure Key Vault's secrets endpoint,
following Microsoft's documented wire formats, in this process (threads), on free 127.0.0.1 ports.

Entra ID (v2.0 token endpoint, client credentials flow): `POST /{tenant}/oauth2/v2.0/token`, a form
with `grant_type=client_credentials`, `client_id`, `scope`, and either `client_secret` or, for
workload identity federation, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
and `client_assertion` (one of the assertions the test declared valid; like a real service-account
token, the previous one stays valid for a while after the kubelet writes a new one), or, for a
certificate credential, a JWT checked as Entra ID checks it: RS256, signed by the key of the
certificate whose SHA-256 thumbprint is the header's `x5t#S256` (and SHA-1 `x5t`, if given), `aud`
the token endpoint, `iss` = `sub` = the client id, `nbf` <= now < `exp`, and a `jti` not seen before. Answers `{"token_type": "Bearer", "expires_in": N, "access_token": ...}`
or `{"error": "invalid_client", "error_description": "AADSTS..."}` with 401.

Key Vault: `GET /secrets/{name}[/{version}]?api-version=7.4` and `PUT /secrets/{name}?api-version=7.4`
with `{"value": ...}`, a bearer token Entra issued; SecretBundle answers
(`value`, `id` ending in the 32-hex version, `attributes.enabled|created|updated`), errors as
`{"error": {"code", "message"}}` (401 without a valid token, 404 SecretNotFound).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
VAULT_SCOPE = "https://vault.azure.net/.default"
API_VERSION = "7.4"


class _Server:
    def __init__(self, name: str):
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)
        self._thread.start()
        self.running = True

    def stop(self) -> None:
        """Stops listening and drops the kept-alive connections: the store went away."""
        if self.running:
            self.server.shutdown()
            self.server.server_close()
            self.running = False
            with self.lock:
                connections, self.connections = list(self.connections), set()
            for connection in connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> tuple[int, dict]:
        raise NotImplementedError

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def setup(self):
                super().setup()
                with double.lock:
                    double.connections.add(self.connection)

            def finish(self):
                with double.lock:
                    double.connections.discard(self.connection)
                super().finish()

            def _serve(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = double.handle(self.command, url.path, parse_qs(url.query), headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve

        return Handler


class EntraDouble(_Server):
    """One app registration of one tenant, with a client secret or a federated token file."""

    def __init__(self, tenant: str, client_id: str, *, client_secret: str | None = None,
                 assertions: list[str] | None = None, certificate_pem: bytes | None = None, expires_in: int = 3599):
        self.tenant, self.client_id = tenant, client_id
        self.client_secret, self.assertions = client_secret, assertions if assertions is not None else []
        self.certificate = None
        if certificate_pem is not None:
            from cryptography import x509
            from cryptography.hazmat.primitives.serialization import Encoding
            self.certificate = x509.load_pem_x509_certificate(certificate_pem)
            der = self.certificate.public_bytes(Encoding.DER)
            self.thumbprints = {"x5t#S256": _b64url(hashlib.sha256(der).digest()), "x5t": _b64url(hashlib.sha1(der).digest())}
        self.seen_jti: set[str] = set()
        self.expires_in = expires_in
        self.issued: list[str] = []
        super().__init__("entra-double")

    def handle(self, method, path, query, headers, body):
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        with self.lock:
            self.requests.append({"method": method, "path": path, "form": form})
        if method != "POST" or path != f"/{self.tenant}/oauth2/v2.0/token":
            return 404, {"error": "invalid_request", "error_description": f"AADSTS90002: no tenant at {path}"}
        if headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
            return 400, {"error": "invalid_request", "error_description": "AADSTS900144: form expected"}
        if form.get("grant_type") != "client_credentials" or form.get("scope") != VAULT_SCOPE:
            return 400, {"error": "invalid_request", "error_description": "AADSTS70011: bad grant_type or scope"}
        if form.get("client_id") != self.client_id:
            return 400, {"error": "unauthorized_client", "error_description": "AADSTS700016: unknown application"}
        if self.client_secret is not None:
            if form.get("client_secret") != self.client_secret:
                return 401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}
        elif self.certificate is not None:
            if form.get("client_assertion_type") != JWT_BEARER or form.get("client_secret") is not None:
                return 401, {"error": "invalid_client", "error_description": "AADSTS7000218: client_assertion expected"}
            problem = self._certificate_assertion_problem(form.get("client_assertion", ""), self.base + path)
            if problem:
                return 401, {"error": "invalid_client", "error_description": f"AADSTS700027: Client assertion failed signature validation. ({problem})"}
        else:
            with self.lock:
                valid = form.get("client_assertion") in self.assertions
            if form.get("client_assertion_type") != JWT_BEARER or not valid:
                return 401, {"error": "invalid_client", "error_description": "AADSTS700024: Client assertion is not valid."}
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.akv-" + secrets.token_hex(16)
        with self.lock:
            self.issued.append(token)
        return 200, {"token_type": "Bearer", "expires_in": self.expires_in, "ext_expires_in": self.expires_in, "access_token": token}


    def _certificate_assertion_problem(self, assertion: str, token_url: str) -> str | None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        parts = assertion.split(".")
        if len(parts) != 3:
            return "not a compact JWT"
        try:
            header, claims = json.loads(_unb64url(parts[0])), json.loads(_unb64url(parts[1]))
        except ValueError:
            return "undecodable"
        if header.get("alg") != "RS256":
            return "alg"
        if header.get("x5t#S256") != self.thumbprints["x5t#S256"] or header.get("x5t", self.thumbprints["x5t"]) != self.thumbprints["x5t"]:
            return "unknown certificate thumbprint"
        try:
            self.certificate.public_key().verify(
                _unb64url(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "signature"
        now = time.time()
        if claims.get("aud") != token_url:
            return f"aud {claims.get('aud')!r}"
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            return "iss/sub"
        if not isinstance(claims.get("nbf"), int) or not isinstance(claims.get("exp"), int):
            return "nbf/exp"
        if claims["nbf"] > now + 60 or claims["exp"] <= now or claims["exp"] - claims["nbf"] > 3600:
            return "lifetime"
        jti = claims.get("jti")
        with self.lock:
            if not isinstance(jti, str) or not jti or jti in self.seen_jti:
                return "jti replayed"
            self.seen_jti.add(jti)
        return None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InstanceMetadataDouble(_Server):
    """The managed identity endpoint of Azure's instance metadata service:
    `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...[&client_id=...]` with
    `Metadata: true`; numbers in the answer are strings, as IMDS sends them."""

    def __init__(self, client_id: str | None = None):
        self.client_id = client_id
        self.issued: list[str] = []
        super().__init__("imds-double")

    def handle(self, method, path, query, headers, body):
        with self.lock:
            self.requests.append({"method": method, "path": path, "query": query, "metadata": headers.get("metadata")})
        if headers.get("metadata") != "true":
            return 400, {"error": "invalid_request", "error_description": "Required metadata header not specified"}
        if method != "GET" or path != "/metadata/identity/oauth2/token" or query.get("api-version") != ["2018-02-01"]:
            return 400, {"error": "invalid_request", "error_description": "bad path or api-version"}
        if query.get("resource") != ["https://vault.azure.net"]:
            return 400, {"error": "invalid_resource", "error_description": "AADSTS500011: resource not found"}
        if self.client_id is not None and query.get("client_id") != [self.client_id]:
            return 400, {"error": "invalid_request", "error_description": "Identity not found"}
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.mi-" + secrets.token_hex(16)
        with self.lock:
            self.issued.append(token)
        expires_on = int(time.time()) + 86399
        return 200, {"access_token": token, "expires_in": "86399", "expires_on": str(expires_on), "ext_expires_in": "86399",
                     "not_before": str(expires_on - 86399), "resource": "https://vault.azure.net", "token_type": "Bearer"}


class KeyVaultDouble(_Server):
    """The secrets of one vault, each a list of versions; only tokens `entra` (an Entra ID or instance
    metadata double) issued are accepted."""

    def __init__(self, entra):
        self.entra = entra
        self.secrets: dict[str, list[dict]] = {}
        super().__init__("key-vault-double")

    def set_secret(self, name: str, value: str, *, enabled: bool = True, created: int | None = None) -> str:
        """A new version; `created` (Unix seconds) backdates it, as a version set long ago."""
        version = secrets.token_hex(16)
        now = int(time.time())
        with self.lock:
            self.secrets.setdefault(name, []).append(
                {"value": value, "version": version, "created": created or now, "updated": created or now, "enabled": enabled})
        return version

    def touch(self, name: str) -> int:
        """As Update Secret does for an attribute (a tag, enabled): the latest version's `updated` is now."""
        now = int(time.time())
        with self.lock:
            self.secrets[name][-1]["updated"] = now
        return now

    def latest(self, name: str) -> dict:
        with self.lock:
            return dict(self.secrets[name][-1])

    def _bundle(self, name: str, item: dict) -> dict:
        return {
            "value": item["value"], "id": f"https://perimeter-e2e.vault.azure.net/secrets/{name}/{item['version']}",
            "attributes": {"enabled": item["enabled"], "created": item["created"], "updated": item["updated"],
                           "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
            "tags": {},
        }

    def handle(self, method, path, query, headers, body):
        with self.lock:
            self.requests.append({"method": method, "path": path, "query": query})
        if query.get("api-version") != [API_VERSION]:
            return 400, {"error": {"code": "BadParameter", "message": "The api-version is missing or not supported."}}
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or authorization[len("Bearer "):] not in self.entra.issued:
            return 401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}
        parts = path.strip("/").split("/")
        if len(parts) not in (2, 3) or parts[0] != "secrets":
            return 404, {"error": {"code": "NotFound", "message": "no such route"}}
        name = parts[1]
        if method == "PUT" and len(parts) == 2:
            value = json.loads(body or b"{}").get("value")
            if not isinstance(value, str):
                return 400, {"error": {"code": "BadParameter", "message": "value is required"}}
            self.set_secret(name, value)
            return 200, self._bundle(name, self.latest(name))
        if method != "GET":
            return 405, {"error": {"code": "MethodNotAllowed", "message": method}}
        with self.lock:
            versions = list(self.secrets.get(name, []))
        if len(parts) == 3:
            versions = [v for v in versions if v["version"] == parts[2]]
        if not versions:
            return 404, {"error": {"code": "SecretNotFound",
                                   "message": f"A secret with (name/id) {name} was not found in this key vault."}}
        item = versions[-1]
        if not item["enabled"]:
            return 403, {"error": {"code": "Forbidden", "message": "Operation get is not allowed on a disabled secret.",
                                   "innererror": {"code": "SecretDisabled"}}}
        return 200, self._bundle(name, item)
