"""Local doubles of Google Cloud's identity endpoints and of Secret Manager, following Google's
documented wire formats, in this process (threads), on free 127.0.0.1 ports.

OAuth 2.0 token endpoint ("Using OAuth 2.0 for Server to Server Applications", RFC 7523):
`POST /token`, a form with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and `assertion`,
a JWT whose RS256 signature is VERIFIED with the service account's public key, whose header names
`alg: RS256`, `typ: JWT` and the key's `kid`, and whose claims are `iss` (the client email), `scope`
(cloud-platform), `aud` (this token URI), `iat` (not in the future) and `exp` (after now, at most an
hour after `iat`). Answers `{"access_token", "expires_in", "token_type": "Bearer"}` or 400
`{"error": "invalid_grant", "error_description": ...}`.

Security Token Service (`POST /v1/token`, RFC 8693 token exchange): `grant_type
=urn:ietf:params:oauth:grant-type:token-exchange`, `audience` (the workload identity provider),
`scope`, `requested_token_type=urn:ietf:params:oauth:token-type:access_token`, `subject_token` (one of
the service-account tokens the test declared valid) and `subject_token_type`; answers
`{"access_token", "issued_token_type", "token_type": "Bearer", "expires_in"}`.

IAM Service Account Credentials (`POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken`,
bearer: an STS token), `{"scope": [...], "lifetime": "3600s"}`; answers `{"accessToken", "expireTime"}`.

Metadata server: `GET /computeMetadata/v1/instance/service-accounts/default/token` with
`Metadata-Flavor: Google` (403 without it).

Secret Manager v1: `GET /v1/projects/P/secrets/S/versions/V:access` (V a number or `latest`;
`{"name": "projects/NUMBER/secrets/S/versions/N", "payload": {"data": BASE64, "dataCrc32c": "DECIMAL"}}`),
`GET /v1/projects/P/secrets/S/versions/N` (the version with `createTime`) and `POST
/v1/projects/P/secrets/S:addVersion` (`{"payload": {"data", "dataCrc32c"}}`, the checksum checked);
only tokens one of its issuers gave are accepted; errors `{"error": {"code", "message", "status"}}`.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time
from urllib.parse import parse_qs

from azure_doubles import _Server

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (0x82F63B78 ^ (c >> 1)) if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli), as Secret Manager computes `dataCrc32c`."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode()).items()}


def _issue(prefix: str) -> str:
    return f"ya29.{prefix}-" + secrets.token_urlsafe(24)


class GoogleOAuthDouble(_Server):
    """oauth2.googleapis.com/token for one service account, checking its signed assertions."""

    def __init__(self, public_key, client_email: str, key_id: str, *, expires_in: int = 3599):
        self.public_key, self.client_email, self.key_id = public_key, client_email, key_id
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.assertions: list[dict] = []  # verified headers and claims
        self.refusals: list[str] = []
        super().__init__("google-oauth-double")
        self.token_uri = self.base + "/token"

    def _refuse(self, description: str):
        with self.lock:
            self.refusals.append(description)
        return 400, {"error": "invalid_grant", "error_description": description}

    def handle(self, method, path, query, headers, body):
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        form = _form(body)
        with self.lock:
            self.requests.append({"method": method, "path": path, "form": form})
        if method != "POST" or path != "/token":
            return 404, {"error": "not_found"}
        if headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
            return 400, {"error": "invalid_request", "error_description": "form expected"}
        if form.get("grant_type") != JWT_BEARER_GRANT:
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3:
            return self._refuse("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe")
        try:
            self.public_key.verify(_b64url_decode(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return self._refuse("Invalid JWT Signature.")
        header, claims = json.loads(_b64url_decode(parts[0])), json.loads(_b64url_decode(parts[1]))
        now = time.time()
        if header.get("alg") != "RS256" or header.get("typ") != "JWT" or header.get("kid") != self.key_id:
            return self._refuse(f"Invalid JWT header: {header}")
        if claims.get("iss") != self.client_email:
            return self._refuse("Invalid issuer")
        if claims.get("aud") != self.token_uri or claims.get("scope") != CLOUD_PLATFORM:
            return self._refuse("Invalid audience or scope")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or iat > now + 60 or exp <= now or exp - iat > 3600:
            return self._refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
        token = _issue("sa")
        with self.lock:
            self.assertions.append({"header": header, "claims": claims, "jwt": form["assertion"]})
            self.issued.append(token)
        return 200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}


class STSDouble(_Server):
    """sts.googleapis.com/v1/token for one workload identity provider, with IAM's generateAccessToken
    for one service account on the same port."""

    def __init__(self, audience: str, subject_tokens: list[str], service_account: str, *, expires_in: int = 3599):
        self.audience, self.subject_tokens, self.service_account = audience, subject_tokens, service_account
        self.expires_in = expires_in
        self.sts_issued: list[str] = []
        self.issued: list[str] = []  # the service account's tokens, the ones Secret Manager accepts
        super().__init__("google-sts-double")
        self.token_url = self.base + "/v1/token"
        self.impersonation_url = f"{self.base}/v1/projects/-/serviceAccounts/{service_account}:generateAccessToken"

    def handle(self, method, path, query, headers, body):
        with self.lock:
            self.requests.append({"method": method, "path": path, "body": body.decode(errors="replace"),
                                  "authorization": headers.get("authorization", "")})
        if method == "POST" and path == "/v1/token":
            form = _form(body)
            if (form.get("grant_type") != TOKEN_EXCHANGE_GRANT or form.get("requested_token_type") != ACCESS_TOKEN_TYPE
                    or form.get("scope") != CLOUD_PLATFORM or form.get("subject_token_type") != JWT_TOKEN_TYPE):
                return 400, {"error": "invalid_request", "error_description": "bad grant, token types or scope"}
            if form.get("audience") != self.audience:
                return 400, {"error": "invalid_target", "error_description": "The target service indicated by the audience is invalid"}
            with self.lock:
                valid = form.get("subject_token") in self.subject_tokens
            if not valid:
                return 400, {"error": "invalid_grant", "error_description": "The subject token is invalid or expired"}
            token = _issue("sts")
            with self.lock:
                self.sts_issued.append(token)
            return 200, {"access_token": token, "issued_token_type": ACCESS_TOKEN_TYPE, "token_type": "Bearer",
                         "expires_in": self.expires_in}
        if method == "POST" and path == f"/v1/projects/-/serviceAccounts/{self.service_account}:generateAccessToken":
            bearer = headers.get("authorization", "").removeprefix("Bearer ")
            with self.lock:
                known = bearer in self.sts_issued
            if not known:
                return 401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                       "status": "UNAUTHENTICATED"}}
            request = json.loads(body or b"{}")
            if request.get("scope") != [CLOUD_PLATFORM]:
                return 400, {"error": {"code": 400, "message": "scope", "status": "INVALID_ARGUMENT"}}
            token = _issue("iam")
            expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.expires_in)
            with self.lock:
                self.issued.append(token)
            return 200, {"accessToken": token, "expireTime": expiry.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        return 404, {"error": {"code": 404, "message": f"no route {path}", "status": "NOT_FOUND"}}


class MetadataDouble(_Server):
    """The metadata server's default service-account token."""

    def __init__(self, *, expires_in: int = 3599):
        self.expires_in = expires_in
        self.issued: list[str] = []
        super().__init__("gce-metadata-double")
        self.host = f"127.0.0.1:{self.port}"

    def handle(self, method, path, query, headers, body):
        with self.lock:
            self.requests.append({"method": method, "path": path, "flavor": headers.get("metadata-flavor")})
        if headers.get("metadata-flavor") != "Google":
            return 403, {"error": "Missing Metadata-Flavor:Google header."}
        if method != "GET" or path != "/computeMetadata/v1/instance/service-accounts/default/token":
            return 404, {"error": "not found"}
        token = _issue("gce")
        with self.lock:
            self.issued.append(token)
        return 200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}


class SecretManagerDouble(_Server):
    """The secrets of one project (by id or number), each a list of versions."""

    def __init__(self, issuers, project: str = "perimeter-e2e", number: str = "123456789012"):
        self.issuers, self.project, self.number = issuers, project, number
        self.secrets: dict[str, list[dict]] = {}
        self.corrupt = False  # answer payloads with a byte flipped, so they do not match their dataCrc32c
        super().__init__("secret-manager-double")

    def add_version(self, name: str, value: str) -> str:
        with self.lock:
            versions = self.secrets.setdefault(name, [])
            versions.append({"value": value.encode(), "number": str(len(versions) + 1),
                             "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
            return versions[-1]["number"]

    def latest(self, name: str) -> dict:
        with self.lock:
            return dict(self.secrets[name][-1])

    def _name(self, secret: str, number: str) -> str:
        return f"projects/{self.number}/secrets/{secret}/versions/{number}"

    def _authorized(self, headers) -> bool:
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        return any(bearer in issuer.issued for issuer in self.issuers)

    def handle(self, method, path, query, headers, body):
        with self.lock:
            self.requests.append({"method": method, "path": path})
        if not self._authorized(headers):
            return 401, {"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                                   "status": "UNAUTHENTICATED"}}
        action = ""
        if ":" in path.rsplit("/", 1)[-1]:
            path, action = path.rsplit(":", 1)
        parts = path.strip("/").split("/")
        if len(parts) < 5 or parts[:2] != ["v1", "projects"] or parts[2] not in (self.project, self.number) or parts[3] != "secrets":
            return 404, {"error": {"code": 404, "message": f"no route {path}", "status": "NOT_FOUND"}}
        secret = parts[4]
        if method == "POST" and len(parts) == 5 and action == "addVersion":
            payload = json.loads(body or b"{}").get("payload", {})
            data = base64.b64decode(payload.get("data", ""))
            if "dataCrc32c" in payload and int(payload["dataCrc32c"]) != crc32c(data):
                return 400, {"error": {"code": 400, "message": "Checksum mismatch.", "status": "INVALID_ARGUMENT"}}
            number = self.add_version(secret, data.decode())
            item = self.latest(secret)
            return 200, {"name": self._name(secret, number), "createTime": item["created"], "state": "ENABLED",
                         "replication": {"automatic": {}}, "etag": '"1"'}
        if method != "GET" or len(parts) != 7 or parts[5] != "versions" or action not in ("", "access"):
            return 404, {"error": {"code": 404, "message": f"no route {path}:{action}", "status": "NOT_FOUND"}}
        with self.lock:
            versions = list(self.secrets.get(secret, []))
        wanted = parts[6]
        chosen = versions[-1:] if wanted == "latest" else [v for v in versions if v["number"] == wanted]
        if not chosen:
            return 404, {"error": {"code": 404, "status": "NOT_FOUND",
                                   "message": f"Secret Version [{self._name(secret, wanted)}] not found."}}
        item = chosen[0]
        if action == "":
            return 200, {"name": self._name(secret, item["number"]), "createTime": item["created"], "state": "ENABLED", "etag": '"1"'}
        data = item["value"]
        checksum = crc32c(data)
        if self.corrupt:  # a byte changed on the way: the checksum is the stored data's
            data = data[:-1] + bytes([data[-1] ^ 0x01])
        return 200, {"name": self._name(secret, item["number"]),
                     "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(checksum)}}
