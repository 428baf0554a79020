"""A local double of OpenAI's and Anthropic's APIs as an organization sees them: chat and messages
calls (metered per key, as the providers meter them), and each vendor's admin API over the same keys,
in the documented shapes:

OpenAI (openai/openai-openapi openapi.yaml): GET /v1/organization/projects, GET
/v1/organization/projects/{id}/api_keys, GET /v1/organization/admin_api_keys (list envelope
{object: "list", data, first_id, last_id, has_more}, paged with `after`), GET
/v1/organization/usage/completions and /usage/embeddings (page envelope {object: "page", data:
[{object: "bucket", start_time, end_time, results}], has_more, next_page}, paged with `page`), DELETE
/v1/organization/projects/{id}/api_keys/{key_id}. Admin calls need `Authorization: Bearer <admin key>`;
a wrong one gets 401 with {"error": {message, type, param, code}}.

Anthropic (Admin API reference): GET /v1/organizations/api_keys ({data, has_more, first_id, last_id},
paged with `after_id`), GET /v1/organizations/usage_report/messages ({data: [{starting_at, ending_at,
results}], has_more, next_page}, paged with `page`), POST /v1/organizations/api_keys/{id} with
{"status": ...}. Admin calls need `x-api-key: <admin key>` and `anthropic-version`; a wrong key gets
401 {"type": "error", "error": {"type": "authentication_error", "message": ...}}.

Every list answers one item per page, whatever `limit` asks (a server may send fewer), so a client
that does not follow the cursors misses keys."""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def _key(prefix: str, length: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> float:
    return datetime.strptime(text.replace(".000", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


class AdminAPIDouble:
    """Both vendors' keys, usage and admin APIs. `tokens` per call come from the request's model:
    a model containing "big" uses 5,000 input and 1,000 output tokens, any other 20 and 10."""

    def __init__(self):
        now = time.time()
        day = 86400
        self.lock = threading.Lock()
        self.openai_admin = _key("sk-admin-", 40)
        self.anthropic_admin = _key("sk-ant-admin01-", 80)
        # OpenAI: the gateway's key, a laptop's key, an old one in another project; all project keys.
        self.openai_keys = {
            "key_gateway": {"value": _key("sk-proj-", 156), "name": "perimeter", "project": "proj_main",
                            "owner": ("user", "alice@example.com"), "created": now - 30 * day, "last_used": now - 60},
            "key_laptop": {"value": _key("sk-proj-", 156), "name": "bob-laptop", "project": "proj_main",
                           "owner": ("user", "bob@example.com"), "created": now - 10 * day, "last_used": None},
            "key_old": {"value": _key("sk-proj-", 156), "name": "2024 script", "project": "proj_side",
                        "owner": ("service_account", "cron-bot"), "created": now - 400 * day, "last_used": now - 200 * day},
        }
        self.openai_projects = {"proj_main": "Main", "proj_side": "Side project"}
        self.anthropic_keys = {
            "apikey_01gateway": {"value": _key("sk-ant-api03-", 95) + "AA", "name": "perimeter", "status": "active",
                                 "workspace": "wrkspc_01prod", "created": now - 20 * day, "creator": "user_01alice"},
            "apikey_02laptop": {"value": _key("sk-ant-api03-", 95) + "AA", "name": "carol-laptop", "status": "active",
                                "workspace": None, "created": now - 5 * day, "creator": "user_02carol"},
        }
        # Tokens per (vendor, key id, hour start).
        self.usage: dict[tuple[str, str, int], list[int]] = {}
        self.admin_requests: list[tuple[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()

    @staticmethod
    def redacted_openai(value: str) -> str:
        # As OpenAI answers: the first 8 characters, one '*' per hidden one, the last 4.
        return value[:8] + "*" * (len(value) - 12) + value[-4:]

    @staticmethod
    def hint_anthropic(value: str) -> str:
        return value[:16] + "..." + value[-4:]

    def _meter(self, vendor: str, key_id: str, tokens: tuple[int, int]) -> None:
        hour = int(time.time()) // 3600 * 3600
        with self.lock:
            counts = self.usage.setdefault((vendor, key_id, hour), [0, 0])
            counts[0] += tokens[0]
            counts[1] += tokens[1]

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - quiet
                pass

            def _send(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("content-length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def do_GET(self):  # noqa: N802
                self._route("GET")

            def do_POST(self):  # noqa: N802
                self._route("POST")

            def do_DELETE(self):  # noqa: N802
                self._route("DELETE")

            def _route(self, method: str) -> None:
                url = urlsplit(self.path)
                query = {k: v for k, v in parse_qs(url.query).items()}
                path = url.path
                if path in ("/v1/chat/completions", "/v1/messages"):
                    return self._model_call(path, self._body())
                if path.startswith("/v1/organization/"):
                    if self.headers.get("authorization") != f"Bearer {double.openai_admin}":
                        return self._send(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                                          "param": None, "code": "invalid_api_key"}})
                    with double.lock:
                        double.admin_requests.append((method, self.path))
                    return self._openai_admin(method, path, query)
                if path.startswith("/v1/organizations/"):
                    if self.headers.get("x-api-key") != double.anthropic_admin or not self.headers.get("anthropic-version"):
                        return self._send(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
                    with double.lock:
                        double.admin_requests.append((method, self.path))
                    return self._anthropic_admin(method, path, query, self._body() if method == "POST" else {})
                self._send(404, {"error": {"message": "no route", "type": "invalid_request_error", "param": None, "code": None}})

            def _model_call(self, path: str, body: dict) -> None:
                tokens = (5000, 1000) if "big" in str(body.get("model", "")) else (20, 10)
                if path == "/v1/chat/completions":
                    presented = (self.headers.get("authorization") or "").removeprefix("Bearer ")
                    key_id = next((i for i, k in double.openai_keys.items() if k["value"] == presented), None)
                    if key_id is None:
                        return self._send(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                                          "param": None, "code": "invalid_api_key"}})
                    double._meter("openai", key_id, tokens)
                    return self._send(200, {
                        "id": "chatcmpl-inv", "object": "chat.completion", "created": int(time.time()), "model": body.get("model"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": tokens[0], "completion_tokens": tokens[1], "total_tokens": sum(tokens)}})
                presented = self.headers.get("x-api-key") or ""
                key_id = next((i for i, k in double.anthropic_keys.items() if k["value"] == presented and k["status"] == "active"), None)
                if key_id is None:
                    return self._send(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
                double._meter("anthropic", key_id, tokens)
                self._send(200, {
                    "id": "msg_inv", "type": "message", "role": "assistant", "model": body.get("model"),
                    "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1], "cache_read_input_tokens": 0,
                              "cache_creation_input_tokens": 0}})

            # MARK: OpenAI

            def _list_page(self, items: list[dict], query: dict) -> None:
                after = query.get("after", [None])[0]
                start = 0 if after is None else next((i + 1 for i, item in enumerate(items) if item["id"] == after), len(items))
                page = items[start:start + 1]
                self._send(200, {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                                 "last_id": page[-1]["id"] if page else None, "has_more": start + 1 < len(items)})

            def _openai_key(self, key_id: str, key: dict) -> dict:
                kind, name = key["owner"]
                owner = ({"type": "user", "user": {"id": "user_" + name[:3], "name": name, "email": name, "role": "owner",
                                                   "created_at": 1711471533}}
                         if kind == "user" else
                         {"type": "service_account", "service_account": {"id": "svc_acct_1", "name": name, "role": "member",
                                                                         "created_at": 1711471533}})
                return {"object": "organization.project.api_key", "redacted_value": double.redacted_openai(key["value"]),
                        "name": key["name"], "created_at": int(key["created"]),
                        "last_used_at": int(key["last_used"]) if key["last_used"] else None, "id": key_id,
                        "owner_project_access": "active", "owner": owner}

            def _openai_admin(self, method: str, path: str, query: dict) -> None:
                parts = path.split("/")
                if path == "/v1/organization/projects" and method == "GET":
                    items = [{"id": p, "object": "organization.project", "name": n, "created_at": 1711471533, "archived_at": None,
                              "status": "active"} for p, n in double.openai_projects.items()]
                    return self._list_page(items, query)
                if len(parts) == 6 and parts[3] == "projects" and parts[5] == "api_keys" and method == "GET":
                    assert query.get("owner_project_access") == ["any"], query
                    with double.lock:
                        items = [self._openai_key(i, k) for i, k in double.openai_keys.items() if k["project"] == parts[4]]
                    return self._list_page(items, query)
                if len(parts) == 7 and parts[5] == "api_keys" and method == "DELETE":
                    with double.lock:
                        key = double.openai_keys.get(parts[6])
                        if key is None or key["project"] != parts[4]:
                            return self._send(404, {"error": {"message": "No such key", "type": "invalid_request_error",
                                                              "param": None, "code": None}})
                        del double.openai_keys[parts[6]]
                    return self._send(200, {"object": "organization.project.api_key.deleted", "id": parts[6], "deleted": True})
                if path == "/v1/organization/admin_api_keys" and method == "GET":
                    items = [{"object": "organization.admin_api_key", "id": "key_admin", "name": "perimeter-admin",
                              "redacted_value": double.redacted_openai(double.openai_admin), "created_at": 1711471533,
                              "expires_at": None, "last_used_at": int(time.time()),
                              "owner": {"type": "user", "object": "organization.user", "id": "user_ali", "name": "alice",
                                        "created_at": 1711471533, "role": "owner"}}]
                    return self._list_page(items, query)
                if path in ("/v1/organization/usage/completions", "/v1/organization/usage/embeddings") and method == "GET":
                    return self._openai_usage(path.endswith("completions"), query)
                self._send(404, {"error": {"message": "no route", "type": "invalid_request_error", "param": None, "code": None}})

            def _openai_usage(self, completions: bool, query: dict) -> None:
                assert query.get("bucket_width") == ["1h"] and query.get("group_by[]") == ["api_key_id"], query
                start, end = int(query["start_time"][0]), int(query.get("end_time", [time.time() + 3600])[0])
                buckets = []
                for hour in range(start // 3600 * 3600, end, 3600):
                    results = []
                    with double.lock:
                        for (vendor, key_id, h), (i, o) in double.usage.items():
                            if vendor == "openai" and h == hour and completions:
                                results.append({"object": "organization.usage.completions.result", "input_tokens": i,
                                                "output_tokens": o, "input_cached_tokens": 0, "num_model_requests": 1,
                                                "project_id": None, "user_id": None, "api_key_id": key_id, "model": None,
                                                "batch": None, "service_tier": None})
                    buckets.append({"object": "bucket", "start_time": hour, "end_time": hour + 3600, "results": results})
                # One bucket per page, so the client must follow next_page.
                index = int(query.get("page", ["0"])[0].removeprefix("page_") or 0)
                more = index + 1 < len(buckets)
                self._send(200, {"object": "page", "data": buckets[index:index + 1], "has_more": more,
                                 "next_page": f"page_{index + 1}" if more else None})

            # MARK: Anthropic

            def _anthropic_key(self, key_id: str, key: dict) -> dict:
                return {"id": key_id, "type": "api_key", "name": key["name"], "workspace_id": key["workspace"],
                        "created_at": _rfc3339(key["created"]), "created_by": {"id": key["creator"], "type": "user"},
                        "partial_key_hint": double.hint_anthropic(key["value"]), "status": key["status"]}

            def _anthropic_admin(self, method: str, path: str, query: dict, body: dict) -> None:
                parts = path.split("/")
                if path == "/v1/organizations/api_keys" and method == "GET":
                    with double.lock:
                        items = [self._anthropic_key(i, k) for i, k in double.anthropic_keys.items()]
                    after = query.get("after_id", [None])[0]
                    start = 0 if after is None else next((i + 1 for i, item in enumerate(items) if item["id"] == after), len(items))
                    page = items[start:start + 1]
                    return self._send(200, {"data": page, "has_more": start + 1 < len(items),
                                            "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None})
                if len(parts) == 5 and parts[3] == "api_keys" and method == "POST":
                    with double.lock:
                        key = double.anthropic_keys.get(parts[4])
                        if key is None:
                            return self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": "not found"}})
                        if "status" in body:
                            key["status"] = body["status"]
                        answer = self._anthropic_key(parts[4], key)
                    return self._send(200, answer)
                if path == "/v1/organizations/usage_report/messages" and method == "GET":
                    assert query.get("bucket_width") == ["1h"] and query.get("group_by[]") == ["api_key_id"], query
                    start, end = _parse(query["starting_at"][0]), _parse(query["ending_at"][0])
                    buckets = []
                    for hour in range(int(start) // 3600 * 3600, int(end), 3600):
                        with double.lock:
                            results = [{"uncached_input_tokens": i, "cache_creation": {"ephemeral_1h_input_tokens": 0,
                                                                                       "ephemeral_5m_input_tokens": 0},
                                        "cache_read_input_tokens": 0, "output_tokens": o, "server_tool_use": {"web_search_requests": 0},
                                        "api_key_id": key_id, "workspace_id": None, "model": None, "service_tier": None,
                                        "context_window": None}
                                       for (vendor, key_id, h), (i, o) in double.usage.items() if vendor == "anthropic" and h == hour]
                        buckets.append({"starting_at": _rfc3339(hour), "ending_at": _rfc3339(hour + 3600), "results": results})
                    index = int(query.get("page", ["0"])[0].removeprefix("page_") or 0)
                    more = index + 1 < len(buckets)
                    return self._send(200, {"data": buckets[index:index + 1], "has_more": more,
                                            "next_page": f"page_{index + 1}" if more else None})
                self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": "no route"}})

        return Handler
