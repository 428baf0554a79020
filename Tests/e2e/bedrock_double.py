"""A local stand-in for Amazon Bedrock's runtime API (bedrock-runtime), speaking its wire formats.

POST /model/{modelId}/converse, /converse-stream, /invoke and /invoke-with-response-stream, with the
model id percent-encoded in the path as the AWS SDKs send it. Streams use AWS's binary event stream
(prelude, string headers, payload, CRC-32s). Every request must carry either `Authorization: Bearer
API_KEY` or a SigV4 signature (service `bedrock`) by the double's access key, which the double checks
with botocore's own signer over the headers the request says it signed; anything else gets 403 in
Bedrock's error shape (`x-amzn-ErrorType` and `{"message"}`), as AWS answers.

Special models (after any `us.` profile prefix and vendor prefix):
  cut-stream      a stream stops after a few events, the last message sent only in part, then the
                  connection closes.
  bad-crc         a stream's third message has a wrong message CRC.
  throttled       429 ThrottlingException.
  denied          403 AccessDeniedException naming the caller's IAM user, account id and access key id.
  exception-stream  a stream ends with an exception message (modelStreamErrorException).
  slow-stream     a stream's messages 0.4 s apart.
"""

from __future__ import annotations

import base64
import json
import random
import string
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# Built at run time, shaped like real AWS credentials (so the leak scanner's rules see them), with no
# key-like literal in the sources.
_rng = random.Random(20261205)
ACCESS_KEY_ID = "AK" + "IA" + "".join(_rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
SECRET_ACCESS_KEY = "".join(_rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))
REGION = "us-east-1"

# Converse usage: inputTokens excludes the cached tokens, which come apart.
CONVERSE_INPUT = 21
CONVERSE_CACHE_READ = 4
CONVERSE_CACHE_WRITE = 2
CONVERSE_OUTPUT = 8
# InvokeModel with Anthropic's body.
INVOKE_INPUT = 15
INVOKE_CACHE_READ = 3
INVOKE_OUTPUT = 6
# InvokeModel of other models: only the headers count.
LLAMA_INPUT = 12
LLAMA_OUTPUT = 5
PIECES = ["Bedrock", " answers", " in", " pieces"]


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b""
    for name, value in headers.items():
        raw = value.encode()
        encoded += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(kind: str, payload: dict) -> bytes:
    return event_message({":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
                         json.dumps(payload).encode())


def parse_messages(data: bytes) -> tuple[list[dict], bytes]:
    """Whole messages in `data` (each checked: both CRCs) and the bytes after the last one."""
    messages = []
    while len(data) >= 12:
        total, header_length = struct.unpack(">II", data[:8])
        assert struct.unpack(">I", data[8:12])[0] == zlib.crc32(data[:8]), "prelude CRC"
        if len(data) < total:
            break
        assert struct.unpack(">I", data[total - 4:total])[0] == zlib.crc32(data[:total - 4]), "message CRC"
        headers, index, raw = {}, 12, data[12:12 + header_length]
        position = 0
        while position < len(raw):
            name_length = raw[position]
            name = raw[position + 1:position + 1 + name_length].decode()
            position += 1 + name_length
            assert raw[position] == 7
            (length,) = struct.unpack(">H", raw[position + 1:position + 3])
            headers[name] = raw[position + 3:position + 3 + length].decode()
            position += 3 + length
        messages.append({"headers": headers, "payload": data[index + header_length:total - 4]})
        data = data[total:]
    return messages, data


class BedrockDouble:
    def __init__(self, api_key: str):
        self.api_key = api_key
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        double = self

        class Handler(_Handler):
            owner = double

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    def start(self) -> "BedrockDouble":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def find(self, marker: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if marker in r["raw"]]

    def only(self, marker: str) -> dict:
        found = self.find(marker)
        assert len(found) == 1, f"{len(found)} upstream requests carry {marker!r}"
        return found[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: BedrockDouble

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        parts = urlsplit(self.path).path.split("/")
        request = {"path": self.path, "headers": list(self.headers.items()), "raw": body.decode(errors="replace"),
                   "auth": None}
        if len(parts) != 4 or parts[1] != "model":
            return self._error(404, "UnknownOperationException", "no such operation")
        model, action = unquote(parts[2]), parts[3]
        request["model"], request["action"] = model, action
        request["auth"] = self._authenticate(body)
        with self.owner.lock:
            self.owner.requests.append(request)
        if request["auth"] is None:
            return self._error(403, "InvalidSignatureException",
                               "The request signature we calculated does not match the signature you provided.")
        try:
            payload = json.loads(body)
        except ValueError:
            return self._error(400, "ValidationException", "Malformed input request")
        name = model.split(".")[-1] if model.startswith(("us.", "eu.")) else model
        name = name.split(".", 1)[-1]
        if name.startswith("denied"):
            return self._error(403, "AccessDeniedException",
                               f"User: arn:aws:iam::123456789012:user/gateway-{ACCESS_KEY_ID} is not authorized to perform: "
                               f"bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/{model}")
        if name.startswith("throttled"):
            return self._error(429, "ThrottlingException", "Too many requests, please wait before trying again.")
        if action == "converse":
            return self._json(200, {
                "output": {"message": {"role": "assistant", "content": [{"text": "Bedrock answers in pieces"}]}},
                "stopReason": "end_turn", "usage": self._converse_usage(), "metrics": {"latencyMs": 12}})
        if action == "converse-stream":
            messages = [event("messageStart", {"role": "assistant"})]
            messages += [event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}, "p": "abcd"})
                         for p in PIECES]
            messages += [event("contentBlockStop", {"contentBlockIndex": 0}),
                         event("messageStop", {"stopReason": "end_turn"}),
                         event("metadata", {"usage": self._converse_usage(), "metrics": {"latencyMs": 12}})]
            return self._stream(messages, name)
        if action == "invoke":
            if "anthropic_version" in payload:
                return self._json(200, {
                    "id": "msg_bedrock", "type": "message", "role": "assistant", "model": name,
                    "content": [{"type": "text", "text": "Bedrock answers in pieces"}], "stop_reason": "end_turn",
                    "usage": {"input_tokens": INVOKE_INPUT, "cache_read_input_tokens": INVOKE_CACHE_READ,
                              "cache_creation_input_tokens": 0, "output_tokens": INVOKE_OUTPUT}},
                    {"X-Amzn-Bedrock-Input-Token-Count": str(INVOKE_INPUT + INVOKE_CACHE_READ),
                     "X-Amzn-Bedrock-Output-Token-Count": str(INVOKE_OUTPUT)})
            return self._json(200, {"generation": "Bedrock answers", "prompt_token_count": LLAMA_INPUT,
                                    "generation_token_count": LLAMA_OUTPUT, "stop_reason": "stop"},
                              {"X-Amzn-Bedrock-Input-Token-Count": str(LLAMA_INPUT),
                               "X-Amzn-Bedrock-Output-Token-Count": str(LLAMA_OUTPUT)})
        if action == "invoke-with-response-stream":
            chunks = [{"type": "message_start", "message": {
                "id": "msg_bedrock", "type": "message", "role": "assistant", "model": name, "content": [],
                "usage": {"input_tokens": INVOKE_INPUT, "cache_read_input_tokens": INVOKE_CACHE_READ, "output_tokens": 1}}}]
            chunks += [{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]
            chunks += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
                       for p in PIECES]
            chunks += [{"type": "content_block_stop", "index": 0},
                       {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": INVOKE_OUTPUT}},
                       {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
                           "inputTokenCount": INVOKE_INPUT + INVOKE_CACHE_READ, "outputTokenCount": INVOKE_OUTPUT,
                           "invocationLatency": 20, "firstByteLatency": 5}}]
            messages = [event("chunk", {"bytes": base64.b64encode(json.dumps(c).encode()).decode(), "p": "ab"})
                        for c in chunks]
            return self._stream(messages, name)
        return self._error(404, "UnknownOperationException", "no such operation")

    @staticmethod
    def _converse_usage() -> dict:
        return {"inputTokens": CONVERSE_INPUT, "outputTokens": CONVERSE_OUTPUT,
                "totalTokens": CONVERSE_INPUT + CONVERSE_OUTPUT + CONVERSE_CACHE_READ + CONVERSE_CACHE_WRITE,
                "cacheReadInputTokens": CONVERSE_CACHE_READ, "cacheWriteInputTokens": CONVERSE_CACHE_WRITE}

    def _authenticate(self, body: bytes) -> str | None:
        """"bearer" or "sigv4" when the request proves the credential; None otherwise."""
        authorization = self.headers.get("authorization") or ""
        if authorization == f"Bearer {self.owner.api_key}":
            return "bearer"
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return None
        fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","))
        signed = fields["SignedHeaders"].split(";")
        if not fields["Credential"].startswith(f"{ACCESS_KEY_ID}/") or not {"host", "x-amz-date"} <= set(signed):
            return None
        if fields["Credential"].split("/")[2:4] != [REGION, "bedrock"]:
            return None
        headers = {name: self.headers[name] for name in signed if self.headers.get(name) is not None}
        request = AWSRequest(method="POST", url=f"http://{self.headers['host']}{self.path}", data=body, headers=headers)
        request.context["timestamp"] = self.headers["x-amz-date"]
        signer = SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "bedrock", REGION)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        return "sigv4" if expected == fields["Signature"] else None

    def _json(self, status: int, obj, headers: dict | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("x-amzn-requestid", "double-request")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str) -> None:
        data = json.dumps({"message": message}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("x-amzn-ErrorType", f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, messages: list[bytes], name: str) -> None:
        if name.startswith("bad-crc"):
            broken = bytearray(messages[2])
            broken[-1] ^= 0xFF
            messages = messages[:2] + [bytes(broken)] + messages[3:]
        if name.startswith("exception-stream"):
            messages = messages[:3] + [event_message(
                {":exception-type": "modelStreamErrorException", ":content-type": "application/json",
                 ":message-type": "exception"}, json.dumps({"message": "model failed"}).encode())]
        cut = name.startswith("cut-stream")
        self.send_response(200)
        self.send_header("content-type", "application/vnd.amazon.eventstream")
        self.send_header("x-amzn-requestid", "double-request")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        sent = messages[:3] + [messages[3][:10]] if cut else messages
        for message in sent:
            # Each message split in two chunks, so the gateway must frame across reads.
            for piece in (message[:7], message[7:]):
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            if name.startswith("slow-stream"):
                time.sleep(0.4)
        if cut:
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")
