#!/usr/bin/env python3
"""A slow OpenAI-shaped SSE upstream for the benchmark's held-stream and paced-stream parts.

nginx answers the load tests with fixed bodies at once; this answers every
`POST /v1/chat/completions` with a chat.completion.chunk stream whose events are spread out in time,
so many streams stay open at once. Query parameters (the gateway forwards the query string):

    events=N        content events after the first (role) event, default 10, at most 600
    interval_ms=MS  pause before each content event, default 1000, at most 10000

The same `events=N` / `interval_ms=MS` may instead be path segments, for clients that drop the query
(LiteLLM): base URL `http://127.0.0.1:PORT/events=3/interval_ms=10/v1`.

then a usage chunk (`"choices":[]`) and `data: [DONE]`. Keep-alive, chunked transfer encoding.

`GET /stats` answers `{"active":..,"peak":..,"started":..,"completed":..}` (open streams now, most
open at once, totals); `GET /stats?reset=1` also zeroes peak and the totals.

Loopback only. Exits by itself after --max-lifetime seconds (default 3600) in case it is orphaned.

    python3 slow_upstream.py [--host 127.0.0.1] [--port 0]   # prints "LISTENING <port>" once bound
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import time
from urllib.parse import parse_qs, urlsplit

MAX_EVENTS = 600
MAX_INTERVAL_MS = 10_000
PROMPT_TOKENS = 11
CACHED_TOKENS = 3

stats = {"active": 0, "peak": 0, "started": 0, "completed": 0}


def chunk_event(created: int, delta: dict, finish: str | None) -> bytes:
    payload = {
        "id": "chatcmpl-benchslow",
        "object": "chat.completion.chunk",
        "created": created,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def usage_event(created: int, completion_tokens: int) -> bytes:
    payload = {
        "id": "chatcmpl-benchslow",
        "object": "chat.completion.chunk",
        "created": created,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_bench",
        "choices": [],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": completion_tokens,
            "total_tokens": PROMPT_TOKENS + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def read_request(reader: asyncio.StreamReader):
    """One request: (method, target, headers) with the body read and dropped, or None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return method, target, headers


async def send_simple(writer, status: str, body: bytes, content_type: str = "application/json") -> None:
    writer.write(
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body
    )
    await writer.drain()


def setting(target: str, name: str, default: int) -> int:
    """`name=N` from the query or from a path segment; the last one wins."""
    found = re.findall(rf"(?:^|[/?&]){name}=(\d+)", target)
    return int(found[-1]) if found else default


async def stream(writer, target: str) -> None:
    events = min(MAX_EVENTS, setting(target, "events", 10))
    interval = min(MAX_INTERVAL_MS, setting(target, "interval_ms", 1000)) / 1000
    created = int(time.time())
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    stats["active"] += 1
    stats["started"] += 1
    stats["peak"] = max(stats["peak"], stats["active"])
    try:
        writer.write(http_chunk(chunk_event(created, {"role": "assistant", "content": ""}, None)))
        await writer.drain()
        for i in range(events):
            await asyncio.sleep(interval)
            writer.write(http_chunk(chunk_event(created, {"content": f" tok{i}"}, None)))
            await writer.drain()
        writer.write(http_chunk(chunk_event(created, {}, "stop")))
        writer.write(http_chunk(usage_event(created, events)))
        writer.write(http_chunk(b"data: [DONE]\n\n"))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        stats["completed"] += 1
    finally:
        stats["active"] -= 1


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            request = await read_request(reader)
            if request is None:
                break
            method, target, headers = request
            url = urlsplit(target)
            query = parse_qs(url.query)
            if method == "GET" and url.path == "/stats":
                body = json.dumps(stats).encode()
                if query.get("reset") == ["1"]:
                    stats.update(peak=stats["active"], started=0, completed=0)
                await send_simple(writer, "200 OK", body)
            elif method == "POST" and url.path.endswith("/chat/completions"):
                await stream(writer, target)
            else:
                await send_simple(writer, "404 Not Found", b'{"error":{"message":"not found"}}')
            if headers.get("connection", "").lower() == "close":
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-lifetime", type=float, default=3600)
    args = parser.parse_args()
    server = await asyncio.start_server(handle, args.host, args.port, backlog=4096, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    print(f"LISTENING {port}", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.max_lifetime)
    except asyncio.TimeoutError:
        print("slow_upstream: max lifetime reached, exiting", file=sys.stderr)
    server.close()
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
