"""Load generation: wrk at full speed or a fixed rate, stream probes that check every event, held streams."""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import re
import statistics
import subprocess
import time
from pathlib import Path

from harness.fixtures import BENCH_DIR, LOOPBACK
from harness.processes import BenchBroken, Target, die_with_parent, cpu_seconds, http_get, status_kb


def run_wrk(target: Target, *, script: str, connections: int, threads: int, duration: float, body_file: Path,
            rate: float | None = None) -> dict:
    env = dict(os.environ, BENCH_BODY_FILE=str(body_file), BENCH_AUTH=target.auth or "", BENCH_METHOD=target.method)
    if rate is not None:
        env["BENCH_RATE_PER_THREAD"] = f"{rate / threads:.3f}"
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
            "-s", str(BENCH_DIR / "wrk" / script), target.chat_url]
    pids = target.pids()
    cpu0, wall0 = cpu_seconds(pids), time.monotonic()
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration + 60,
                              preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired:
        raise BenchBroken(f"wrk against {target.label} did not finish in time")
    wall = time.monotonic() - wall0
    cpu = cpu_seconds(pids) - cpu0
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchBroken(f"wrk against {target.label} failed (status {done.returncode}): "
                          f"{(done.stderr or done.stdout).strip()[-500:]}")
    result = json.loads(line.split(" ", 1)[1])
    seconds = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / seconds if seconds else 0.0
    result["cpu_seconds"] = round(cpu, 3)
    result["cpu_pct"] = round(100 * cpu / wall, 1) if pids else None
    result["cpu_us_per_request"] = round(1e6 * cpu / result["requests"], 1) if pids and result["requests"] else None
    result["connections"], result["threads"] = connections, threads
    if rate is not None:
        result["target_rate"] = rate
    return result


def wrk_errors(result: dict) -> str | None:
    e = result["errors"]
    bad = {k: v for k, v in e.items() if v}
    if result["requests"] == 0:
        return "no request completed"
    return ", ".join(f"{v} {k} error(s)" for k, v in bad.items()) if bad else None


def parse_events(raw: bytes) -> list[str]:
    text = raw.replace(b"\r\n", b"\n").decode("utf-8")
    return [block for block in text.split("\n\n") if block.strip()]


def check_stream_events(events: list[str], label: str, expect_content: int | None, strict: bool = True) -> bool:
    """Raise BenchBroken unless this is a well-formed OpenAI chat stream with one usage chunk and [DONE].

    OpenAI sends usage on a chunk of its own with `"choices":[]`; with strict=False (LiteLLM, which puts
    it on a chunk with an empty delta) that is only reported: the return value says whether it was so."""
    if not events or events[-1] != "data: [DONE]":
        raise BenchBroken(f"{label}: stream did not end with data: [DONE] ({events[-1:]!r})")
    payloads = []
    for block in events[:-1]:
        if not block.startswith("data: "):
            raise BenchBroken(f"{label}: unexpected SSE block {block[:80]!r}")
        payloads.append(json.loads(block[6:]))
    usage = [p for p in payloads if p.get("usage")]
    if len(usage) != 1:
        raise BenchBroken(f"{label}: expected exactly one usage chunk, got {len(usage)}")
    if usage[0]["usage"].get("prompt_tokens") is None:
        raise BenchBroken(f"{label}: usage chunk without prompt_tokens: {usage[0]['usage']}")
    choices_empty = usage[0].get("choices") == []
    if strict and not choices_empty:
        raise BenchBroken(f"{label}: the usage chunk has choices {usage[0].get('choices')!r}, not []")
    content = [p for p in payloads if p.get("choices") and p["choices"][0].get("delta", {}).get("content")]
    if expect_content is not None and len(content) != expect_content:
        raise BenchBroken(f"{label}: expected {expect_content} content chunks, got {len(content)}")
    return choices_empty


def probe_streams(base: str, path: str, auth: str | None, body: dict, count: int, label: str,
                  expect_content: int | None, deadline: float, strict: bool = True) -> dict:
    """`count` sequential streamed calls on one keep-alive connection; timestamps of every event."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    assert host == LOOPBACK
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if auth:
        headers["Authorization"] = auth
    ttfb, first_event, total, gaps = [], [], [], []
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for i in range(count):
            if time.monotonic() > deadline:
                raise BenchBroken(f"{label}: stream probes ran past their time bound after {i} streams")
            t0 = time.perf_counter()
            conn.request("POST", path, body=payload, headers=headers)
            response = conn.getresponse()
            t_head = time.perf_counter()
            if response.status != 200:
                raise BenchBroken(f"{label}: status {response.status}: {response.read()[:300]!r}")
            buffer, stamps, raw = b"", [], b""
            while True:
                data = response.read1(65536)
                if not data:
                    break
                now = time.perf_counter()
                raw += data
                buffer += data.replace(b"\r\n", b"\n")
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    if block.strip():
                        stamps.append(now)
            raw += response.read()  # marks a length-delimited response closed, so the connection is reused
            choices_empty = check_stream_events(parse_events(raw), label, expect_content, strict)
            ttfb.append(t_head - t0)
            first_event.append(stamps[0] - t0)
            total.append(stamps[-1] - t0)
            gaps.extend(b - a for a, b in zip(stamps, stamps[1:]))
    finally:
        conn.close()

    def ms(values, q=None):
        if not values:
            return None
        if q is None:
            return round(statistics.median(values) * 1000, 3)
        return round(percentile(values, q) * 1000, 3)

    return {
        "streams": count,
        "events_per_stream": len(stamps),
        "content_events": expect_content,
        "usage_chunk_has_empty_choices": choices_empty,
        "ttfb_ms_median": ms(ttfb),
        "first_event_ms_median": ms(first_event),
        "gap_ms_median": ms(gaps),
        "gap_ms_p99": ms(gaps, 99),
        "total_ms_median": ms(total),
        "ttfb_ms_p99": ms(ttfb, 99),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


async def hold_streams(base: str, path: str, auth: str | None, body: dict, count: int, stream_seconds: float,
                       rss_pids, upstream_stats_url: str | None, bound: float) -> dict:
    """Open `count` streams at once and keep them open; sample the gateway's RSS while they are."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    assert host == LOOPBACK
    payload = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\nConnection: close\r\nContent-Length: {len(payload)}\r\n"
            + (f"Authorization: {auth}\r\n" if auth else "") + "\r\n").encode() + payload
    state = {"open": 0, "max_open": 0, "streaming": 0, "max_streaming": 0, "first": 0, "done": 0, "failed": 0}
    errors: dict[str, int] = {}
    first_times: list[float] = []
    t_start = time.monotonic()

    async def one(i: int) -> None:
        writer = None
        seen_first = False
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
            state["open"] += 1
            state["max_open"] = max(state["max_open"], state["open"])
            writer.write(head)
            await writer.drain()
            raw = b""
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                raw += data
                if not seen_first:
                    end = raw.find(b"\r\n\r\n")
                    if end >= 0 and not raw.startswith(b"HTTP/1.1 200"):
                        rest = await asyncio.wait_for(reader.read(4096), 5) if b"\r\n\r\n" == raw[-4:] else b""
                        status = raw.split(b"\r\n", 1)[0].decode("latin-1")
                        body = (raw[end + 4:] + rest)[:200].decode("utf-8", "replace")
                        raise RuntimeError(f"{status}: {body}")
                    if end >= 0 and b"data: " in raw[end:]:
                        seen_first = True
                        first_times.append(time.monotonic() - t_start)
                        state["first"] += 1
                        state["streaming"] += 1
                        state["max_streaming"] = max(state["max_streaming"], state["streaming"])
            if not seen_first or b"data: [DONE]" not in raw:
                raise RuntimeError(f"stream ended without [DONE] ({len(raw)} bytes)")
            state["done"] += 1
        except Exception as error:  # recorded, not raised: the others go on
            state["failed"] += 1
            text = str(error) if isinstance(error, RuntimeError) else f"{type(error).__name__}: {error}"
            text = re.sub(r'"req_[A-Za-z0-9]+"', '"req_..."', text)  # so equal errors count together
            errors[text] = errors.get(text, 0) + 1
        finally:
            if seen_first:
                state["streaming"] -= 1
            if writer is not None:
                state["open"] -= 1
                writer.close()

    samples: list[tuple[int, int]] = []  # (client connections open, gateway RSS KiB)

    async def sampler() -> None:
        while True:
            samples.append((state["open"], status_kb(rss_pids(), "VmRSS")))
            await asyncio.sleep(0.25)

    rss_before = status_kb(rss_pids(), "VmRSS")
    sampling = asyncio.create_task(sampler())
    tasks = []
    for i in range(count):  # open in batches of 50 so the listen backlog is never the limit
        tasks.append(asyncio.create_task(one(i)))
        if i % 50 == 49:
            await asyncio.sleep(0.02)
    opened_in = time.monotonic() - t_start
    _, pending = await asyncio.wait(tasks, timeout=bound)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=5)
        errors[f"still open after the {bound:.0f} s bound; cancelled"] = len(pending)
    sampling.cancel()
    upstream = None
    if upstream_stats_url:
        try:
            upstream = json.loads(http_get(upstream_stats_url)[1])
        except OSError:
            pass
    rss_peak = max((s[1] for s in samples), default=0)
    return {
        "streams": count,
        "stream_seconds": stream_seconds,
        "completed": state["done"],
        "failed": state["failed"] + len(pending),
        "max_client_connections_open": state["max_open"],
        "max_concurrently_streaming": state["max_streaming"],
        "upstream_peak_concurrent": upstream.get("peak") if upstream else None,
        "all_first_events_by_s": round(max(first_times), 2) if len(first_times) == count else None,
        "opened_in_s": round(opened_in, 2),
        "wall_s": round(time.monotonic() - t_start, 2),
        "rss_before_kb": rss_before,
        "rss_peak_kb": rss_peak,
        "rss_per_connection_kb": round((rss_peak - rss_before) / state["max_open"], 1) if state["max_open"] else None,
        "errors": [f"{n}x {text}" for text, n in sorted(errors.items(), key=lambda item: -item[1])],
    }
