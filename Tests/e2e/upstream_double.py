"""A local stand-in for the OpenAI, Anthropic and Gemini APIs, speaking their wire formats exactly.

It records every request it receives (method, path, headers, parsed JSON body) so tests can check
what the gateway sent upstream, and answers with fixed, known token counts so tests can check what
the gateway metered and priced.

Special models:
  cut-stream   streamed answers stop after a few events: the connection is closed without the
               terminating zero-length chunk (Anthropic: after message_start and some deltas).
  leaky-error  401 in the provider's error shape, whose message contains the provider key that the
               request carried (the gateway must redact it).
  slow         sleeps SLOW_SECONDS before answering (longer than the gateway's upstream_timeout).
  slow-stream  a normal stream whose events are spread over a few seconds.
  rate-limited 429 in the provider's error shape, with retry-after and rate-limit headers.
  broken       500 with a plain-text body.

Header `x-double-delay: SECONDS` (forwarded by the gateway) makes a POST wait that long before it is
answered, whatever the model, so tests can hold calls in flight at once.

Gemini (Google AI's generativelanguage API) is served under /gemini: /gemini/v1beta/... and
/gemini/v1/... (models/{model}:generateContent, :streamGenerateContent with ?alt=sse for SSE or
without it for a streamed JSON array, :countTokens, :embedContent, :batchEmbedContents, GET models
with pageSize/pageToken, GET models/{model}). Its `cut-stream` sends a few chunks, none with a
finishReason or the final counts, then drops the connection. Header `x-double-prompt-tokens: N` sets
the promptTokenCount a Gemini answer reports (to reach a price tier). A Gemini call with neither an
x-goog-api-key header nor a key query parameter is refused 403 PERMISSION_DENIED, as Google does.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Deterministic usage, so tests can assert exact numbers.
CHAT_PROMPT_TOKENS = 11
CHAT_CACHED_TOKENS = 3
CHAT_COMPLETION_TOKENS = 7
EMBEDDING_TOKENS = 8
EMBEDDING_DIMENSIONS = 4
MESSAGES_INPUT_TOKENS = 13
MESSAGES_CACHE_READ_TOKENS = 5
MESSAGES_CACHE_CREATION_TOKENS = 2
MESSAGES_OUTPUT_TOKENS = 9
RESPONSES_INPUT_TOKENS = 17
RESPONSES_CACHED_TOKENS = 4
RESPONSES_OUTPUT_TOKENS = 6
COUNT_TOKENS = 42
# Content pieces sent before a cut stream is aborted.
CUT_PIECES = ["Partial", " answer", " before", " the"]
SLOW_SECONDS = 4.0
# The longest wait the x-double-delay header may ask for.
MAX_DELAY_SECONDS = 30.0
UPSTREAM_MODELS = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"]
# Gemini's usageMetadata. promptTokenCount includes the cached tokens (cachedContentTokenCount);
# tool-use prompt and thoughts tokens are counted apart from it and from candidatesTokenCount.
GEMINI_PROMPT_TOKENS = 19
GEMINI_CACHED_TOKENS = 6
GEMINI_TOOL_PROMPT_TOKENS = 2
GEMINI_CANDIDATES_TOKENS = 10
GEMINI_THOUGHTS_TOKENS = 5
GEMINI_TOTAL_TOKENS = GEMINI_PROMPT_TOKENS + GEMINI_TOOL_PROMPT_TOKENS + GEMINI_CANDIDATES_TOKENS + GEMINI_THOUGHTS_TOKENS
GEMINI_COUNT_TOKENS = 23
GEMINI_RESPONSE_ID = "gemini-e2e-response"
# GET models, in this order ("name" is "models/" + the id).
GEMINI_MODELS = ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash", "gemini-embedding-001", "text-embedding-004"]
GEMINI_DEFAULT_PAGE_SIZE = 50


def answer_text(prompt: str) -> str:
    """The answer the double gives to a prompt: it echoes it, so tests can tell calls apart."""
    return f"Echo: {prompt}. Done."


def answer_pieces(prompt: str) -> list[str]:
    """`answer_text(prompt)` cut into stream deltas (word-sized pieces, spaces kept)."""
    text = answer_text(prompt)
    pieces: list[str] = []
    current = ""
    for char in text:
        if char == " " and current:
            pieces.append(current)
            current = ""
        current += char
    if current:
        pieces.append(current)
    assert "".join(pieces) == text
    return pieces


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return ""


def last_user_text(body: dict) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _text_of(message.get("content"))
    inp = body.get("input") if isinstance(body, dict) else None
    if isinstance(inp, str):
        return inp
    if isinstance(inp, list):
        for item in reversed(inp):
            if isinstance(item, dict) and item.get("role") == "user":
                return _text_of(item.get("content"))
    return ""


def chat_usage() -> dict:
    return {
        "prompt_tokens": CHAT_PROMPT_TOKENS,
        "completion_tokens": CHAT_COMPLETION_TOKENS,
        "total_tokens": CHAT_PROMPT_TOKENS + CHAT_COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": CHAT_CACHED_TOKENS, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def messages_usage(output_tokens: int = MESSAGES_OUTPUT_TOKENS) -> dict:
    return {
        "input_tokens": MESSAGES_INPUT_TOKENS,
        "cache_creation_input_tokens": MESSAGES_CACHE_CREATION_TOKENS,
        "cache_read_input_tokens": MESSAGES_CACHE_READ_TOKENS,
        "output_tokens": output_tokens,
    }


def gemini_model(model: str) -> dict:
    """The Model resource the double lists for a model id."""
    embedding = "embedding" in model
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model.replace("-", " ").title(),
        "description": f"{model}, as served by the upstream double",
        "inputTokenLimit": 2048 if embedding else 1048576,
        "outputTokenLimit": 1 if embedding else 65536,
        "supportedGenerationMethods": (
            ["embedContent", "countTextTokens", "countTokens"] if embedding
            else ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]
        ),
        **({} if embedding else {"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2, "thinking": True}),
    }


def gemini_usage(prompt_tokens: int = GEMINI_PROMPT_TOKENS, candidates_tokens: int | None = GEMINI_CANDIDATES_TOKENS,
                 thoughts_tokens: int | None = GEMINI_THOUGHTS_TOKENS) -> dict:
    """usageMetadata with the fixed counts; a stream's chunks before the last pass a running
    candidates count (or None) and no thoughts count."""
    usage = {
        "promptTokenCount": prompt_tokens,
        "cachedContentTokenCount": GEMINI_CACHED_TOKENS,
        "toolUsePromptTokenCount": GEMINI_TOOL_PROMPT_TOKENS,
        "totalTokenCount": prompt_tokens + GEMINI_TOOL_PROMPT_TOKENS + (candidates_tokens or 0) + (thoughts_tokens or 0),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": GEMINI_CACHED_TOKENS}],
    }
    if candidates_tokens is not None:
        usage["candidatesTokenCount"] = candidates_tokens
    if thoughts_tokens is not None:
        usage["thoughtsTokenCount"] = thoughts_tokens
    return usage


def gemini_text(contents) -> str:
    """The text of the last user turn of Gemini `contents` (a list of Content, or one)."""
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list):
        return ""
    for content in reversed(contents):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            return "".join(
                p["text"] for p in content.get("parts") or [] if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
    return ""


ENTRA_CLIENT_SECRET = "entra~secret." + "e2e-0123456789"


class RecordedRequest(dict):
    """One request as received: method, path, headers (list of (name, value)), body, raw."""

    def header(self, name: str):
        name = name.lower()
        for key, value in self["headers"]:
            if key.lower() == name:
                return value
        return None

    def header_values(self):
        return [value for _, value in self["headers"]]


class UpstreamDouble:
    """The double's server, run on a daemon thread; `requests` holds what it received."""

    def __init__(self, host: str = "127.0.0.1", tls: tuple[str, str] | None = None):
        """`tls`: (certificate chain PEM, private key PEM) to serve HTTPS instead of HTTP."""
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        handler = type("BoundHandler", (_Handler,), {"double": self})
        self.server = ThreadingHTTPServer((host, 0), handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            # The handshake runs in the handler's thread, on its first read, not in the accept loop.
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
            self.scheme = "https"
        self.host, self.port = self.server.server_address[:2]
        self._thread = threading.Thread(target=self.server.serve_forever, name="upstream-double", daemon=True)

    def start(self) -> "UpstreamDouble":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def find(self, marker: str, path: str | None = None) -> list[RecordedRequest]:
        """Requests whose raw body contains `marker` (and whose path is `path`, when given)."""
        return [
            r for r in self.requests if marker in r["raw"] and (path is None or r["path"] == path)
        ]

    def only(self, marker: str, path: str | None = None) -> RecordedRequest:
        found = self.find(marker, path)
        assert len(found) == 1, f"expected one upstream request with {marker!r}, got {len(found)}"
        return found[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "UpstreamDouble/1.0"
    double: UpstreamDouble  # set on the bound subclass

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    # MARK: request handling

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self) -> RecordedRequest:
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        request = RecordedRequest(
            method=self.command,
            path=path,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            raw=raw.decode("utf-8", "replace"),
        )
        self.double.record(request)
        return request

    def do_GET(self):  # noqa: N802
        request = self._record()
        # An OpenAI-compatible vendor's model list: one model of its own and one every vendor has.
        if request["path"].startswith("/compat/") and request["path"].endswith("/v1/models"):
            vendor = request["path"].split("/")[2]
            return self._json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": vendor}
                for m in (f"{vendor}-own-model", "llama-3.3-70b-versatile")]})
        if request["path"] == "/_requests":
            return self._json(200, {"data": [dict(r) for r in self.double.requests if r["path"] != "/_requests"]})
        if request["path"].startswith("/gemini/"):
            return self._gemini(request)
        if request["path"].startswith("/v1/models/"):
            model = request["path"][len("/v1/models/"):]
            if model in UPSTREAM_MODELS:
                return self._json(200, {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "upstream-double"})
            return self._json(404, {"error": {"message": f"The model '{model}' does not exist", "type": "invalid_request_error", "param": None, "code": "model_not_found"}})
        if request["path"] == "/v1/models":
            return self._json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "upstream-double"}
                        for m in UPSTREAM_MODELS
                    ],
                },
            )
        return self._json(404, {"error": {"message": f"no route {request['path']}", "type": "invalid_request_error", "param": None, "code": None}})

    def do_POST(self):  # noqa: N802
        request = self._record()
        if request["path"].startswith("/gemini/"):
            try:
                return self._gemini(request)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return None
        body = request["body"] if isinstance(request["body"], dict) else {}
        path = request["path"]
        # /compat/NAME/v1/...: an OpenAI-compatible vendor. "strict" is one that knows no
        # stream_options and never reports a stream's usage (as some do): it refuses the field.
        # /entra/TENANT/oauth2/v2.0/token: Microsoft Entra ID's client credentials grant (a form body).
        if path.startswith("/entra/") and path.endswith("/oauth2/v2.0/token"):
            form = {k: v[0] for k, v in parse_qs(request["raw"]).items()}
            if form.get("grant_type") != "client_credentials" or form.get("client_secret") != ENTRA_CLIENT_SECRET:
                return self._json(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
            tenant = path.split("/")[2]
            return self._json(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                    "access_token": f"entra-token-{tenant}-{form.get('client_id')}"})
        # /azure/openai/deployments/DEPLOYMENT/OPERATION?api-version=...: an Azure OpenAI resource, which
        # answers in OpenAI's format.
        if path.startswith("/azure/openai/deployments/"):
            _deployment, _, operation = path[len("/azure/openai/deployments/"):].partition("/")
            path = "/v1/" + operation
        elif path.startswith("/azure/openai/v1/"):
            path = "/v1/" + path[len("/azure/openai/v1/"):]
        if path.startswith("/compat/"):
            vendor, _, rest = path[len("/compat/"):].partition("/")
            path = "/" + rest
            if vendor == "strict" and "stream_options" in body:
                return self._json(400, {"error": {"message": "Unrecognized request argument supplied: stream_options", "type": "invalid_request_error", "param": "stream_options", "code": None}})
        model = body.get("model")
        anthropic = path.startswith("/v1/messages")
        if model == "leaky-error":
            return self._leaky_error(request, anthropic)
        if model == "rate-limited":
            return self._rate_limited(anthropic)
        if model == "broken":
            data = b"upstream exploded"
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        if model == "slow":
            time.sleep(SLOW_SECONDS)
        delay = _delay_seconds(request.header("x-double-delay"))
        if delay:
            time.sleep(delay)
        try:
            if path == "/v1/chat/completions":
                return self._chat(body)
            if path == "/v1/embeddings":
                return self._embeddings(body)
            if path == "/v1/responses":
                return self._responses(body)
            if path == "/v1/messages":
                return self._messages(body)
            if path == "/v1/messages/count_tokens":
                return self._json(200, {"input_tokens": COUNT_TOKENS})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return None
        return self._json(404, {"error": {"message": f"no route {path}", "type": "invalid_request_error", "param": None, "code": None}})

    # MARK: OpenAI

    def _chat(self, body: dict):
        model = body.get("model", "")
        prompt = last_user_text(body)
        if not body.get("stream"):
            return self._json(
                200,
                {
                    "id": "chatcmpl-e2e",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": model,
                    "system_fingerprint": "fp_e2e",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer_text(prompt), "refusal": None},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": chat_usage(),
                    "service_tier": "default",
                },
            )
        options = body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and options.get("include_usage") is True

        def chunk(delta: dict, finish=None) -> dict:
            event = {
                "id": "chatcmpl-e2e",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": model,
                "system_fingerprint": "fp_e2e",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                event["usage"] = None
            return event

        if model == "cut-stream":
            events = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": p}) for p in CUT_PIECES]
            payload = b"".join(b"data: " + _dumps(e) + b"\n\n" for e in events)
            # The last event arrives whole; then the connection dies mid-body.
            return self._stream(payload, cut=True)

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece}) for piece in answer_pieces(prompt)]
        events.append(chunk({}, finish="stop"))
        if include_usage:
            events.append(
                {
                    "id": "chatcmpl-e2e",
                    "object": "chat.completion.chunk",
                    "created": 1_700_000_000,
                    "model": model,
                    "system_fingerprint": "fp_e2e",
                    "choices": [],
                    "usage": chat_usage(),
                }
            )
        payload = b"".join(b"data: " + _dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"
        return self._stream(payload, slow=model == "slow-stream")

    def _embeddings(self, body: dict):
        inputs = body.get("input")
        if not isinstance(inputs, list):
            inputs = [inputs]
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, _ in enumerate(inputs):
            vector = [round(0.25 * (index + 1) + 0.125 * d, 6) for d in range(EMBEDDING_DIMENSIONS)]
            embedding = (
                base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return self._json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model", ""),
                "usage": {"prompt_tokens": EMBEDDING_TOKENS, "total_tokens": EMBEDDING_TOKENS},
            },
        )

    def _responses(self, body: dict):
        model = body.get("model", "")
        text = answer_text(last_user_text(body))
        usage = {
            "input_tokens": RESPONSES_INPUT_TOKENS,
            "input_tokens_details": {"cached_tokens": RESPONSES_CACHED_TOKENS},
            "output_tokens": RESPONSES_OUTPUT_TOKENS,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": RESPONSES_INPUT_TOKENS + RESPONSES_OUTPUT_TOKENS,
        }
        message = {
            "id": "msg_e2e",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }

        def response(status: str, with_usage: bool, output: list) -> dict:
            return {
                "id": "resp_e2e",
                "object": "response",
                "created_at": 1_700_000_000,
                "status": status,
                "model": model,
                "output": output,
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "usage": usage if with_usage else None,
            }

        if not body.get("stream"):
            return self._json(200, response("completed", True, [message]))
        events = [
            ("response.created", {"type": "response.created", "sequence_number": 0, "response": response("in_progress", False, [])}),
            ("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_e2e", "output_index": 0, "content_index": 0, "delta": text}),
            ("response.completed", {"type": "response.completed", "sequence_number": 2, "response": response("completed", True, [message])}),
        ]
        payload = b"".join(b"event: " + n.encode() + b"\ndata: " + _dumps(d) + b"\n\n" for n, d in events)
        return self._stream(payload)

    # MARK: Anthropic

    def _messages(self, body: dict):
        model = body.get("model", "")
        prompt = last_user_text(body)
        if not body.get("stream"):
            return self._json(
                200,
                {
                    "id": "msg_e2e",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": answer_text(prompt)}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": messages_usage(),
                },
            )

        def event(name: str, data: dict) -> bytes:
            return b"event: " + name.encode() + b"\ndata: " + _dumps(data) + b"\n\n"

        start = event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_e2e",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": messages_usage(output_tokens=1),
                },
            },
        )
        block_start = event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )

        def delta(text: str) -> bytes:
            return event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
            )

        if model == "cut-stream":
            payload = start + block_start + b"".join(delta(p) for p in CUT_PIECES)
            return self._stream(payload, cut=True)

        payload = (
            start
            + block_start
            + event("ping", {"type": "ping"})
            + b"".join(delta(p) for p in answer_pieces(prompt))
            + event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": MESSAGES_OUTPUT_TOKENS},
                },
            )
            + event("message_stop", {"type": "message_stop"})
        )
        return self._stream(payload, slow=model == "slow-stream")

    # MARK: Gemini

    def _gemini(self, request: RecordedRequest):
        """/gemini/{v1beta|v1}/models[/{model}[:{method}]], as generativelanguage.googleapis.com."""
        version, _, rest = request["path"][len("/gemini/"):].partition("/")
        query = parse_qs(urlsplit(request["target"]).query)
        if version not in ("v1beta", "v1") or not (rest == "models" or rest.startswith("models/")):
            return self._google_error(404, "NOT_FOUND", f"Requested entity was not found: {request['path']}")
        if not request.header("x-goog-api-key") and not query.get("key"):
            return self._google_error(
                403, "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        if request["method"] == "GET":
            if rest == "models":
                return self._gemini_models(query)
            model = rest[len("models/"):]
            if model in GEMINI_MODELS:
                return self._google_json(200, gemini_model(model))
            return self._google_error(
                404, "NOT_FOUND", f"models/{model} is not found for API version {version}, or is not supported for GET."
            )
        model, _, method = rest[len("models/"):].rpartition(":")
        if not model or not method:
            return self._google_error(404, "NOT_FOUND", f"Requested entity was not found: {request['path']}")
        body = request["body"]
        if not isinstance(body, dict):
            return self._google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        delay = _delay_seconds(request.header("x-double-delay"))
        if delay:
            time.sleep(delay)
        prompt_tokens = _int_header(request.header("x-double-prompt-tokens"), GEMINI_PROMPT_TOKENS)
        if method in ("generateContent", "streamGenerateContent"):
            if not body.get("contents"):
                return self._google_error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified")
            if method == "generateContent":
                return self._gemini_generate(model, body, prompt_tokens)
            return self._gemini_stream(model, body, prompt_tokens, sse=query.get("alt") == ["sse"])
        if method == "countTokens":
            return self._google_json(
                200, {"totalTokens": GEMINI_COUNT_TOKENS, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": GEMINI_COUNT_TOKENS}]}
            )
        if method == "embedContent":
            if not isinstance(body.get("content"), dict):
                return self._google_error(400, "INVALID_ARGUMENT", "* EmbedContentRequest.content: content is not specified")
            return self._google_json(200, {"embedding": {"values": _gemini_vector(0)}})
        if method == "batchEmbedContents":
            requests = body.get("requests")
            if not isinstance(requests, list) or not requests:
                return self._google_error(400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: requests is not specified")
            for index, item in enumerate(requests):
                named = item.get("model") if isinstance(item, dict) else None
                if named != f"models/{model}":
                    return self._google_error(
                        400, "INVALID_ARGUMENT",
                        f"* BatchEmbedContentsRequest.requests[{index}].model: model {named!r} does not match models/{model}",
                    )
            return self._google_json(200, {"embeddings": [{"values": _gemini_vector(i)} for i in range(len(requests))]})
        return self._google_error(404, "NOT_FOUND", f"Method {method} is not found for models/{model}.")

    def _gemini_models(self, query: dict):
        size = _int_header((query.get("pageSize") or [None])[0], GEMINI_DEFAULT_PAGE_SIZE)
        size = GEMINI_DEFAULT_PAGE_SIZE if size <= 0 else min(size, 1000)
        token = (query.get("pageToken") or [""])[0]
        start = 0
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset="))
            except ValueError:
                return self._google_error(400, "INVALID_ARGUMENT", "Invalid page token.")
        page = GEMINI_MODELS[start:start + size]
        answer: dict = {"models": [gemini_model(m) for m in page]}
        if start + size < len(GEMINI_MODELS):
            answer["nextPageToken"] = base64.urlsafe_b64encode(f"offset={start + size}".encode()).decode()
        return self._google_json(200, answer)

    @staticmethod
    def _gemini_chunk(model: str, text: str, usage: dict, finish: bool) -> dict:
        candidate: dict = {"content": {"parts": [{"text": text}], "role": "model"}}
        if finish:
            candidate["finishReason"] = "STOP"
        candidate["index"] = 0
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": GEMINI_RESPONSE_ID}

    def _gemini_generate(self, model: str, body: dict, prompt_tokens: int):
        text = answer_text(gemini_text(body.get("contents")))
        return self._google_json(200, self._gemini_chunk(model, text, gemini_usage(prompt_tokens), finish=True))

    def _gemini_stream(self, model: str, body: dict, prompt_tokens: int, sse: bool):
        """Every chunk carries usageMetadata: the prompt's counts and a running candidates count;
        the last one has the finishReason, the final candidates count and the thoughts count."""
        cut = model == "cut-stream"
        pieces = CUT_PIECES if cut else answer_pieces(gemini_text(body.get("contents")))
        chunks = []
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1 and not cut
            usage = (
                gemini_usage(prompt_tokens) if last
                else gemini_usage(prompt_tokens, None if index == 0 else min(index, GEMINI_CANDIDATES_TOKENS - 1), None)
            )
            chunks.append(self._gemini_chunk(model, piece, usage, finish=last))
        if sse:
            # Google ends each event with CRLF CRLF.
            payload = b"".join(b"data: " + _dumps(c) + b"\r\n\r\n" for c in chunks)
            return self._stream(payload, cut=cut)
        # Without alt=sse: one JSON array, pretty-printed, its elements written as they come.
        elements = [json.dumps(c, indent=2).encode() for c in chunks]
        writes = []
        for index, element in enumerate(elements):
            head = b"[" if index == 0 else b"\n,\r\n"
            writes += [head + element[: len(element) // 2], element[len(element) // 2:]]
        if not cut:
            writes.append(b"\n]")
        return self._stream(b"".join(writes), cut=cut, content_type="application/json; charset=UTF-8", pieces=writes)

    def _google_json(self, status: int, obj) -> None:
        """Google answers pretty-printed JSON."""
        data = json.dumps(obj, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Vary", "Origin, X-Origin, Referer")
        self.send_header("Server-Timing", "gfet4t7; dur=12")
        self.end_headers()
        self.wfile.write(data)

    def _google_error(self, code: int, status: str, message: str) -> None:
        return self._google_json(code, {"error": {"code": code, "message": message, "status": status}})

    # MARK: errors

    def _leaky_error(self, request: RecordedRequest, anthropic: bool):
        if anthropic:
            key = request.header("x-api-key") or ""
            return self._json(
                401,
                {
                    "type": "error",
                    "error": {"type": "authentication_error", "message": f"invalid x-api-key: {key} is not valid"},
                },
            )
        authorization = request.header("authorization") or ""
        key = authorization[7:] if authorization.lower().startswith("bearer ") else authorization
        return self._json(
            401,
            {
                "error": {
                    "message": f"Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        )

    def _rate_limited(self, anthropic: bool):
        if anthropic:
            body = {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit."}}
        else:
            body = {"error": {"message": "Rate limit reached for requests", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
        data = _dumps(body)
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("retry-after", "7")
        self.send_header("x-ratelimit-remaining-requests", "0")
        self.send_header("Set-Cookie", "upstream-session=secret; Path=/")
        self.end_headers()
        self.wfile.write(data)

    # MARK: writing

    def _json(self, status: int, obj) -> None:
        data = _dumps(obj)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "upstream-req-1")
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, payload: bytes, cut: bool = False, slow: bool = False,
                content_type: str = "text/event-stream; charset=utf-8", pieces: list[bytes] | None = None) -> None:
        """Sends `payload` as an SSE body in chunked encoding, in several TCP writes, some of which
        split an event in the middle (or in the given `pieces`, by default). With `cut`, the
        connection is then closed without the final zero-length chunk."""
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # A test can pick how the body is cut into writes with the x-double-split request header
        # (the gateway forwards it): awkward (default), whole, tiny (7-byte writes) or crlf (lines
        # ended by CRLF, cut awkwardly).
        mode = (self.headers.get("x-double-split") or "awkward").lower()
        pause = 0.25 if slow else 0.002
        if mode == "crlf" and b"\r" not in payload:
            payload = payload.replace(b"\n", b"\r\n")
            pieces = None
        if mode == "whole":
            pieces = [payload]
        elif mode == "tiny":
            pieces = [payload[i:i + 7] for i in range(0, len(payload), 7)]
            pause = 0.0
        elif pieces is None:
            pieces = _split_awkwardly(payload)
        assert b"".join(pieces) == payload
        for piece in pieces:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(pause)
        if cut:
            time.sleep(0.05)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(b"0\r\n\r\n")


def _split_awkwardly(payload: bytes) -> list[bytes]:
    """Cuts an SSE payload into pieces: each event split once inside its data (so a write ends in
    the middle of an event), and a few whole events merged, to exercise any framing."""
    separator = b"\r\n\r\n" if b"\r\n\r\n" in payload else b"\n\n"
    events = payload.split(separator)
    events = [e + separator for e in events[:-1]] + ([events[-1]] if events[-1] else [])
    pieces: list[bytes] = []
    carry = b""
    for index, event in enumerate(events):
        event = carry + event
        carry = b""
        if index % 3 == 2:
            # Merge this event with the next one.
            carry = event
            continue
        cut = max(1, len(event) // 2)
        # Sometimes split right inside the "\n\n" terminator.
        if index % 4 == 1:
            cut = len(event) - 1
        pieces.append(event[:cut])
        pieces.append(event[cut:])
    if carry:
        pieces.append(carry)
    assert b"".join(pieces) == payload
    return [p for p in pieces if p]


def _delay_seconds(value) -> float:
    """The wait an `x-double-delay` header asks for (0 when absent or not a number), at most MAX_DELAY_SECONDS."""
    try:
        seconds = float(value) if value is not None else 0.0
    except ValueError:
        return 0.0
    return min(max(seconds, 0.0), MAX_DELAY_SECONDS) if seconds == seconds else 0.0


def _int_header(value, default: int) -> int:
    """An integer header or query value, or `default` when absent or not a number."""
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _gemini_vector(index: int) -> list[float]:
    """The embedding of the index-th text of a request (as the OpenAI side's)."""
    return [round(0.25 * (index + 1) + 0.125 * d, 6) for d in range(EMBEDDING_DIMENSIONS)]


def _dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


if __name__ == "__main__":  # pragma: no cover - manual use
    double = UpstreamDouble().start()
    print(f"upstream double on {double.base}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        double.stop()
