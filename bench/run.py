#!/usr/bin/env python3
"""Perimeter benchmark: the gateway against a fixed local upstream, and against the upstream direct.

Run through bench/run.sh, which installs nginx and wrk first. See bench/README.md for what each
number means. Everything listens on and targets 127.0.0.1 only; every load phase is bounded in time;
every process started here is stopped on exit, Ctrl-C included.

Exit status: 0 when every measurement ran and every answer was what it should be; 1 when anything
measured was broken (a non-2xx answer, a socket error, a tool that failed, a stream that did not end
with [DONE], call-log rows missing); 2 for bad arguments or missing tools. Never on performance
numbers. LiteLLM failing to install or run is recorded in the output, not an error.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import datetime as dt
import hashlib
import http.client
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
LOOPBACK = "127.0.0.1"

PROVIDER_KEY = "sk-bench-" + "0123456789abcdef" * 3
ADMIN_TOKEN = "bench-admin-" + hashlib.sha256(str(os.getpid()).encode()).hexdigest()[:32]
LITELLM_MASTER_KEY = "sk-litellm-bench-master"
LITELLM_SPEC = "litellm[proxy]"

# What the LiteLLM comparison cannot make equal (also in the JSON and bench/README.md).
LITELLM_NOT_EQUIVALENT = [
    "master key only: LiteLLM's virtual keys, per-key budgets, rpm/tpm limits, IP and model allow-lists and "
    "spend logs need its Postgres database through Prisma, which cannot be set up here (Prisma downloads its "
    "engines at run time; no Postgres), so LiteLLM does no per-key admission, budget or call logging, while "
    "Perimeter does all of them on every call",
    "streams through LiteLLM are routed by model name to their upstream paths because it drops the client's "
    "query string; the upstream bytes are the same",
    "LiteLLM rewrites streams: its usage chunk carries a choices entry with an empty delta instead of []",
    "one uvicorn worker (--num_workers 1), as Perimeter is one process",
]

# The request every load phase sends, through the gateway or direct.
CHAT_REQUEST = {"model": "gpt-4o-mini", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello"}]}
STREAM_REQUEST = dict(CHAT_REQUEST, stream=True, stream_options={"include_usage": True})
# Streams that go to the slow upstream: a dated snapshot, priced like gpt-4o-mini, routed by Perimeter's
# first provider (see perimeter_config).
SLOW_MODEL = "gpt-4o-mini-2024-07-18"

PROMPT_TOKENS, COMPLETION_TOKENS, CACHED_TOKENS = 9, 10, 0
SLOW_PROMPT_TOKENS, SLOW_CACHED_TOKENS = 11, 3  # slow_upstream.py's usage; its output tokens = its events
CREATED = 1741569952
ANSWER_PIECES = ["Hello", "!", " How", " can", " I", " assist", " you", " today", "?"]


# --------------------------------------------------------------------------------------------- bodies


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def usage_object() -> dict:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_body() -> str:
    return compact(
        {
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "object": "chat.completion",
            "created": CREATED,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(ANSWER_PIECES),
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": usage_object(),
            "service_tier": "default",
            "system_fingerprint": "fp_06737a9306",
        }
    )


def sse_events() -> list[str]:
    """The `data:` payloads of the fixed stream, in order."""

    def chunk(delta, finish=None, choices=True):
        return compact(
            {
                "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": "gpt-4o-mini-2024-07-18",
                "service_tier": "default",
                "system_fingerprint": "fp_06737a9306",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
                "usage": None if choices else usage_object(),
            }
        )

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": piece}) for piece in ANSWER_PIECES]
    events.append(chunk({}, "stop"))
    events.append(chunk(None, choices=False))
    events.append("[DONE]")
    return events


def sse_body() -> str:
    return "".join(f"data: {event}\n\n" for event in sse_events())


def nginx_quote(text: str) -> str:
    assert "$" not in text, "nginx would read $ as a variable"
    quoted = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    assert len(quoted) < 4000, "nginx rejects a config token over 4 KiB"
    return quoted


# --------------------------------------------------------------------------------------------- errors


class BenchBroken(Exception):
    """Something measured is broken: the run exits non-zero."""


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)
        log(f"PROBLEM: {message}")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ processes


def _die_with_parent() -> None:
    """In a child, before exec: get SIGTERM if the harness dies without cleaning up (SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Supervisor:
    """Every long-running process the harness starts, each in its own process group, stopped on exit."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict, *, capture_stdout=False, cwd=None) -> subprocess.Popen:
        logfile = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else logfile,
            stderr=logfile,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        logfile.close()
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 5.0) -> None:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)

    def stop_all(self) -> None:
        for _name, proc in reversed(self.procs):
            try:
                self.stop(proc)
            except Exception as error:  # keep stopping the others
                log(f"could not stop pid {proc.pid}: {error}")


def wait_for_line(proc: subprocess.Popen, pattern: str, logpath: Path, timeout: float) -> re.Match:
    """Read the child's stdout (copying it to logpath) until a line matches; keep draining after."""
    found: dict = {}
    ready = threading.Event()

    def pump():
        with open(logpath, "ab") as out:
            for raw in iter(proc.stdout.readline, b""):
                out.write(raw)
                out.flush()
                if not ready.is_set():
                    match = re.search(pattern, raw.decode("utf-8", "replace"))
                    if match:
                        found["match"] = match
                        ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            raise BenchBroken(f"no line matching {pattern!r} within {timeout:.0f} s; see {logpath}")
    if "match" not in found:
        raise BenchBroken(f"process exited (status {proc.poll()}) before printing {pattern!r}; see {logpath}")
    return found["match"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0, headers: dict | None = None) -> tuple[int, bytes]:
    assert url.startswith(f"http://{LOOPBACK}:"), url
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, headers=None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchBroken(f"process for {url} exited with status {proc.returncode}")
        try:
            status, _ = http_get(url, timeout=2, headers=headers)
            if status == 200:
                return
            last = f"status {status}"
        except OSError as error:
            last = str(error)
        time.sleep(0.2)
    raise BenchBroken(f"{url} not ready within {timeout:.0f} s ({last})")


# ------------------------------------------------------------------------------------ /proc metrics

CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            continue
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        except OSError:
            continue
    return total / CLK_TCK


def status_kb(pids: list[int], field: str) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


class Target:
    """Something the load is sent to: the upstream direct, or a gateway in front of it."""

    def __init__(self, key: str, label: str, base: str, auth: str | None, root_pid: int | None,
                 path: str = "/v1/chat/completions", method: str = "POST"):
        self.key, self.label, self.base, self.auth, self.root_pid = key, label, base, auth, root_pid
        self.path, self.method = path, method

    @property
    def chat_url(self) -> str:
        return self.base + self.path

    def pids(self) -> list[int]:
        return process_tree(self.root_pid) if self.root_pid else []


# ------------------------------------------------------------------------------------------------ wrk


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
                              preexec_fn=_die_with_parent)
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


# ------------------------------------------------------------------------------------ stream probes


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


# ------------------------------------------------------------------------------------- held streams


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


# ---------------------------------------------------------------------------------------- the bench


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.short = args.short
        self.problems = Problems()
        self.tmp = Path(tempfile.mkdtemp(prefix="perimeter-bench-"))
        self.sup = Supervisor(self.tmp)
        self.results: dict = {}
        self.body_file = self.tmp / "chat-request.json"
        self.body_file.write_text(compact(CHAT_REQUEST))
        if self.short:
            self.wrk_seconds, self.warmup_seconds, self.rate_seconds = 2, 1, 2
            self.probe_count, self.paced_probe_count, self.hold_count, self.hold_events = 100, 20, 100, 3
        else:
            self.wrk_seconds, self.warmup_seconds, self.rate_seconds = 10, 3, 10
            self.probe_count, self.paced_probe_count, self.hold_count, self.hold_events = 1000, 100, 1000, 10
        if args.streams:
            self.hold_count = args.streams
        self.paced_events, self.paced_interval_ms = 8, 10

    # ---------------------------------------------------------------------------- upstreams

    def start_nginx(self) -> Target:
        prefix = self.tmp / "nginx"
        prefix.mkdir()
        port = free_port()
        conf = (BENCH_DIR / "nginx.conf.template").read_text()
        conf = (conf.replace("@PREFIX@", str(prefix)).replace("@PORT@", str(port))
                .replace("@CHAT_BODY@", nginx_quote(chat_body())).replace("@SSE_BODY@", nginx_quote(sse_body())))
        (prefix / "nginx.conf").write_text(conf)
        argv = ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
        test = subprocess.run(argv + ["-t"], capture_output=True, text=True, timeout=30)
        if test.returncode != 0:
            raise BenchBroken(f"nginx config test failed: {test.stderr.strip()}")
        proc = self.sup.start("nginx", argv, dict(os.environ))
        base = f"http://{LOOPBACK}:{port}"
        wait_http(base + "/healthz", 15, proc)
        log(f"nginx upstream on {base} (pid {proc.pid})")
        return Target("direct", "direct nginx", base, f"Bearer {PROVIDER_KEY}", proc.pid)

    def start_slow_upstream(self) -> str:
        argv = [sys.executable, str(BENCH_DIR / "slow_upstream.py"), "--host", LOOPBACK, "--port", "0",
                "--max-lifetime", "7200"]
        proc = self.sup.start("slow-upstream", argv, dict(os.environ), capture_stdout=True)
        match = wait_for_line(proc, r"LISTENING (\d+)", self.tmp / "slow-upstream.out", 20)
        base = f"http://{LOOPBACK}:{match.group(1)}"
        log(f"slow SSE upstream on {base} (pid {proc.pid})")
        return base

    # ---------------------------------------------------------------------------- perimeter

    def perimeter_binary(self) -> Path:
        given = self.args.perimeter_bin or os.environ.get("PERIMETER_BIN")
        if given:
            path = Path(given)
        else:
            release, debug = REPO / ".build/release/perimeter", REPO / ".build/debug/perimeter"
            path = release if release.exists() else debug
        if not path.is_file() or not os.access(path, os.X_OK):
            raise SystemExit(f"bench: perimeter binary {path} not found; build it (swift build -c release) "
                             "or pass --perimeter-bin PATH")
        return path.resolve()

    def start_perimeter(self, binary: Path, nginx: Target, slow_base: str) -> Target:
        home = self.tmp / "home"
        home.mkdir()
        config = self.tmp / "perimeter.yaml"
        config.write_text(
            f"""database: sqlite:{self.tmp}/perimeter.db
call_log_flush_interval: 200
providers:
  # Streams held open by the benchmark go to the slow upstream; everything else to nginx.
  - name: slow
    kind: openai
    base_url: {slow_base}/v1
    api_key: env:BENCH_PROVIDER_KEY
    models: ["{SLOW_MODEL}"]
  - name: openai
    kind: openai
    base_url: {nginx.base}/v1
    api_key: env:BENCH_PROVIDER_KEY
    models: ["gpt-*"]
""")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERIMETER_")}
        env.update(HOME=str(home), BENCH_PROVIDER_KEY=PROVIDER_KEY, PERIMETER_ADMIN_TOKEN=ADMIN_TOKEN)
        self.perimeter_env = env
        argv = [str(binary), "serve", "--config", str(config), "--listen", f"{LOOPBACK}:0"]
        t0 = time.monotonic()
        proc = self.sup.start("perimeter", argv, env, capture_stdout=True, cwd=str(self.tmp))
        match = wait_for_line(proc, r"Perimeter is listening on (http://127\.0\.0\.1:\d+)", self.tmp / "perimeter.out", 90)
        base = match.group(1)
        self.results["perimeter_startup_s"] = round(time.monotonic() - t0, 2)
        log(f"Perimeter on {base} (pid {proc.pid}, up in {self.results['perimeter_startup_s']} s)")
        self.perimeter_proc = proc

        cli_env = dict(env, PERIMETER_URL=base)
        argv = [str(binary), "keys", "create", "--name", "bench", "--env", "bench", "--owner", "bench",
                "--budget", "1000000", "--period", "month", "--rpm", "10000000", "--tpm", "10000000000",
                "--allow-ip", "127.0.0.0/8", "--models", "gpt-4o*", "--json"]
        done = subprocess.run(argv, env=cli_env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise BenchBroken(f"perimeter keys create failed: {done.stderr.strip() or done.stdout.strip()}")
        created = json.loads(done.stdout)
        self.key_id = created["id"]
        log(f"created virtual key {self.key_id}")
        return Target("perimeter", "Perimeter", base, f"Bearer {created['key']}", proc.pid)

    # ---------------------------------------------------------------------------- litellm

    def start_litellm(self, nginx: Target, slow_base: str) -> Target:
        venv = BENCH_DIR / ".venv-litellm"
        litellm = venv / "bin" / "litellm"
        info: dict = self.results.setdefault("litellm", {})
        if not litellm.exists():
            log("installing LiteLLM into bench/.venv-litellm (first run only; a few minutes)")
            t0 = time.monotonic()
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "--quiet",
                                  LITELLM_SPEC], capture_output=True, text=True, timeout=1800)
            if pip.returncode != 0:
                raise RuntimeError(f"pip install {LITELLM_SPEC} failed: {pip.stderr.strip()[-800:]}")
            info["install_s"] = round(time.monotonic() - t0, 1)
        version = subprocess.run([str(venv / "bin" / "python"), "-c",
                                  "import importlib.metadata as m; print(m.version('litellm'))"],
                                 capture_output=True, text=True, timeout=120)
        info["version"] = version.stdout.strip() or None
        port = free_port()
        config = self.tmp / "litellm.yaml"
        pe, pi = self.paced_events, self.paced_interval_ms
        he = self.hold_events
        config.write_text(
            f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {nginx.base}/v1
      api_key: os.environ/BENCH_PROVIDER_KEY
  - model_name: bench-sse
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {nginx.base}/sse/v1
      api_key: os.environ/BENCH_PROVIDER_KEY
  - model_name: bench-paced
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {slow_base}/events={pe}/interval_ms={pi}/v1
      api_key: os.environ/BENCH_PROVIDER_KEY
  - model_name: bench-hold
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {slow_base}/events={he}/interval_ms=1000/v1
      api_key: os.environ/BENCH_PROVIDER_KEY
litellm_settings:
  telemetry: false
  set_verbose: false
  request_timeout: 600
general_settings:
  master_key: {LITELLM_MASTER_KEY}
""")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "DATABASE_URL", "OPENAI_"))}
        env.update(HOME=str(self.tmp / "home"), BENCH_PROVIDER_KEY=PROVIDER_KEY, LITELLM_TELEMETRY="False",
                   LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR", DISABLE_ADMIN_UI="True",
                   NO_DOCS="True", PYTHONUNBUFFERED="1")
        help_text = subprocess.run([str(litellm), "--help"], capture_output=True, text=True, env=env, timeout=120).stdout
        argv = [str(litellm), "--config", str(config), "--host", LOOPBACK, "--port", str(port), "--num_workers", "1"]
        if "--telemetry" in help_text:
            argv += ["--telemetry", "False"]
        proc = self.sup.start("litellm", argv, env, cwd=str(self.tmp))
        base = f"http://{LOOPBACK}:{port}"
        t0 = time.monotonic()
        wait_http(base + "/health/liveliness", 240, proc)
        info["startup_s"] = round(time.monotonic() - t0, 1)
        log(f"LiteLLM {info['version']} on {base} (pid {proc.pid}, up in {info['startup_s']} s)")
        return Target("litellm", "LiteLLM", base, f"Bearer {LITELLM_MASTER_KEY}", proc.pid)

    # ---------------------------------------------------------------------------- checks

    def check_chat(self, target: Target) -> None:
        host, port = target.base.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request("POST", "/v1/chat/completions", body=compact(CHAT_REQUEST),
                         headers={"Content-Type": "application/json", "Authorization": target.auth})
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise BenchBroken(f"{target.label}: chat call answered {response.status}: {body[:300]!r}")
        answer = json.loads(body)
        usage = answer.get("usage") or {}
        if answer.get("object") != "chat.completion" or usage.get("prompt_tokens") != PROMPT_TOKENS:
            raise BenchBroken(f"{target.label}: unexpected chat answer {body[:300]!r}")
        if target.key == "perimeter" and not response.getheader("x-perimeter-request-id"):
            raise BenchBroken("Perimeter: answer without x-perimeter-request-id")

    def admin(self, path: str) -> dict:
        status, body = http_get(self.perimeter.base + "/admin/v1" + path,
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)
        if status != 200:
            raise BenchBroken(f"admin {path}: status {status}: {body[:300]!r}")
        return json.loads(body)

    def check_call_rows(self, expected: set[tuple], limit: int = 20, need: tuple | None = None) -> int:
        """The newest `limit` call-log rows of the bench key: every ok one carries the upstream's token
        counts (model, input, cached input, output in `expected`); with need = (signature, n), exactly n of
        them have that signature. Problems are recorded, not raised, so the run goes on."""
        deadline = time.monotonic() + 15
        while True:
            rows = self.admin(f"/calls?key_id={self.key_id}&limit={limit}")["data"]
            ok = [r for r in rows if r.get("outcome") == "ok"]
            signatures = [(r.get("model"), r.get("input_tokens"), r.get("cached_input_tokens"), r.get("output_tokens"))
                          for r in ok]
            matched = sum(1 for sig in signatures if need and sig == need[0])
            if (ok and (need is None or matched >= need[1])) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if not ok:
            self.problems.add(f"call log: none of the newest {limit} rows of the bench key is ok")
        for row, sig in zip(ok, signatures):
            if sig not in expected:
                self.problems.add(f"call log row {row.get('id')} has (model, in, cached, out) = {sig}, "
                                  f"expected one of {sorted(expected)}")
                break
        if need and matched != need[1]:
            self.problems.add(f"call log: {matched} ok rows for {need[0]}, expected {need[1]}")
        return len(ok)

    def check_call_count(self, answered: int) -> dict:
        """Every call Perimeter answered must be in the call log (wrk's last in-flight calls come on top)."""
        deadline = time.monotonic() + 15
        while True:
            row = self.admin("/spend?group_by=key")["total"]  # the bench key is the only key
            logged = row.get("calls", 0)
            if logged >= answered or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if logged < answered:
            self.problems.add(f"call log has {logged} calls for the bench key, fewer than the {answered} answered")
        return {"answered": answered, "logged": logged, "spend_total": row}

    # ---------------------------------------------------------------------------- phases

    def peak(self, target: Target) -> dict:
        c, t = self.args.connections, self.args.threads
        log(f"{target.label}: warm-up {self.warmup_seconds} s, then {self.wrk_seconds} s at {c} connections")
        warm = run_wrk(target, script="chat.lua", connections=c, threads=t, duration=self.warmup_seconds,
                       body_file=self.body_file)
        result = run_wrk(target, script="chat.lua", connections=c, threads=t, duration=self.wrk_seconds,
                         body_file=self.body_file)
        result["warmup_requests"] = warm["requests"]
        for name, res in (("warm-up", warm), ("peak run", result)):
            error = wrk_errors(res)
            if error:
                raise BenchBroken(f"{target.label} {name}: {error}")
        log(f"{target.label}: {result['rps']:.0f} req/s, p50 {result['latency_us']['p50']} µs, "
            f"p99 {result['latency_us']['p99']} µs")
        return result

    def fixed_rate(self, target: Target, rate: float) -> dict:
        c, t = self.args.connections, self.args.threads
        log(f"{target.label}: {rate:.0f} req/s for {self.rate_seconds} s")
        result = run_wrk(target, script="paced.lua", connections=c, threads=t, duration=self.rate_seconds,
                         body_file=self.body_file, rate=rate)
        error = wrk_errors(result)
        if error:
            raise BenchBroken(f"{target.label} at {rate:.0f} req/s: {error}")
        log(f"{target.label}: achieved {result['rps']:.0f} req/s, p50 {result['latency_us']['p50']} µs, "
            f"p99 {result['latency_us']['p99']} µs")
        return result

    def stream_probes(self, targets: list[Target], slow_base: str) -> dict:
        out: dict = {}
        bound = time.monotonic() + (120 if self.short else 900)
        pe, pi = self.paced_events, self.paced_interval_ms
        for target in targets:
            if target.key == "direct":
                fixed = (target.base, "/v1/chat/completions?stream=1", target.auth, STREAM_REQUEST)
                paced = (slow_base, f"/v1/chat/completions?events={pe}&interval_ms={pi}", target.auth, STREAM_REQUEST)
            elif target.key == "perimeter":
                fixed = (target.base, "/v1/chat/completions?stream=1", target.auth, STREAM_REQUEST)
                paced = (target.base, f"/v1/chat/completions?events={pe}&interval_ms={pi}", target.auth,
                         dict(STREAM_REQUEST, model=SLOW_MODEL))
            else:
                fixed = (target.base, "/v1/chat/completions", target.auth, dict(STREAM_REQUEST, model="bench-sse"))
                paced = (target.base, "/v1/chat/completions", target.auth, dict(STREAM_REQUEST, model="bench-paced"))
            log(f"{target.label}: {self.probe_count} sequential streams (nginx SSE), "
                f"{self.paced_probe_count} paced ({pe} events, {pi} ms apart)")
            strict = target.key != "litellm"
            entry = {"fixed": probe_streams(*fixed, self.probe_count, f"{target.label} stream", len(ANSWER_PIECES),
                                            bound, strict)}
            entry["paced"] = probe_streams(*paced, self.paced_probe_count, f"{target.label} paced stream", pe,
                                           bound, strict)
            out[target.key] = entry
        return out

    def hold(self, target: Target, slow_base: str, count: int) -> dict:
        events = self.hold_events
        if target.key == "perimeter":
            path, body = f"/v1/chat/completions?events={events}&interval_ms=1000", dict(STREAM_REQUEST, model=SLOW_MODEL)
        else:
            path, body = "/v1/chat/completions", dict(STREAM_REQUEST, model="bench-hold")
        http_get(slow_base + "/stats?reset=1")
        bound = max(60.0, 6 * events + 30)
        log(f"{target.label}: holding {count} streams open ({events} s each, bound {bound:.0f} s)")
        result = asyncio.run(hold_streams(target.base, path, target.auth, body, count, events, target.pids,
                                          slow_base + "/stats", bound))
        log(f"{target.label}: {result['completed']}/{count} streams completed, at most "
            f"{result['max_concurrently_streaming']} streaming at once (upstream saw {result['upstream_peak_concurrent']}), "
            f"RSS {result['rss_before_kb'] // 1024} -> {result['rss_peak_kb'] // 1024} MiB")
        return result

    # ---------------------------------------------------------------------------- run

    def run(self) -> int:
        started = time.monotonic()
        binary = self.perimeter_binary()
        self.results.update(meta(binary, self.short, self.args))
        self.results["settings"].update(
            wrk_seconds=self.wrk_seconds, warmup_seconds=self.warmup_seconds, rate_seconds=self.rate_seconds,
            stream_probes=self.probe_count, paced_stream_probes=self.paced_probe_count,
            paced_events=self.paced_events, paced_interval_ms=self.paced_interval_ms,
            held_streams=self.hold_count, held_stream_seconds=self.hold_events, request=CHAT_REQUEST)
        nginx = self.start_nginx()
        slow_base = self.start_slow_upstream()
        self.perimeter = perimeter = self.start_perimeter(binary, nginx, slow_base)
        for target in (nginx, perimeter):
            self.check_chat(target)
        self.results["perimeter_rss_idle_kb"] = status_kb([perimeter.root_pid], "VmRSS")
        cpu_start = cpu_seconds([perimeter.root_pid])
        wall_start = time.monotonic()

        # 1. Peak throughput at fixed concurrency. The floor row is the same server answering its health
        #    route: no key, no policy, no upstream; what the HTTP server alone costs on this machine.
        floor = Target("floor", "Perimeter GET /healthz", perimeter.base, None, perimeter.root_pid,
                       path="/healthz", method="GET")
        load = {"direct": self.peak(nginx), "floor": self.peak(floor), "perimeter": self.peak(perimeter)}
        self.results["peak"] = load

        # 2. Latency at a fixed rate: half of Perimeter's peak, direct, the floor and through.
        rate = max(10.0, round(load["perimeter"]["rps"] / 2))
        fixed = {"rate": rate, "direct": self.fixed_rate(nginx, rate), "floor": self.fixed_rate(floor, rate),
                 "perimeter": self.fixed_rate(perimeter, rate)}
        self.results["fixed_rate"] = fixed
        # Peak RSS after the request phases, before the stream phases.
        self.results["rss_hwm_after_load_kb"] = {t.key: status_kb(t.pids(), "VmHWM") for t in (nginx, perimeter)}
        call_log = {"rows_checked": self.check_call_rows({("gpt-4o-mini", PROMPT_TOKENS, CACHED_TOKENS, COMPLETION_TOKENS)})}
        self.results["call_log"] = call_log

        # 3. Streams: time to first byte and the gaps between events, one stream after another.
        self.results["streams"] = self.stream_probes([nginx, perimeter], slow_base)

        # 4. Many streams open at once.
        hold = self.hold(perimeter, slow_base, self.hold_count)
        self.results["hold"] = {"perimeter": hold}
        if hold["completed"] != self.hold_count:
            self.problems.add(f"held streams through Perimeter: {hold['completed']}/{self.hold_count} completed; "
                              f"{'; '.join(hold['errors'])}")

        # Every call Perimeter answered is in the call log, streams included.
        answered = (2 + load["perimeter"]["requests"] + load["perimeter"]["warmup_requests"]
                    + fixed["perimeter"]["requests"] + self.probe_count + self.paced_probe_count + hold["completed"])
        held = (SLOW_MODEL, SLOW_PROMPT_TOKENS, SLOW_CACHED_TOKENS, self.hold_events)
        call_log["rows_checked"] += self.check_call_rows(
            {held, (SLOW_MODEL, SLOW_PROMPT_TOKENS, SLOW_CACHED_TOKENS, self.paced_events),
             ("gpt-4o-mini", PROMPT_TOKENS, CACHED_TOKENS, COMPLETION_TOKENS)},
            limit=min(10_000, self.hold_count + 50), need=(held, hold["completed"]))
        call_log.update(self.check_call_count(answered))

        cpu = cpu_seconds([perimeter.root_pid]) - cpu_start
        wall = time.monotonic() - wall_start
        self.results["perimeter_cpu_over_run"] = {"cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2),
                                                  "cpu_pct": round(100 * cpu / wall, 1)}
        self.results["perimeter_rss_hwm_end_kb"] = status_kb([perimeter.root_pid], "VmHWM")
        if self.perimeter_proc.poll() is not None:
            raise BenchBroken(f"Perimeter exited during the run (status {self.perimeter_proc.returncode})")

        # 5. LiteLLM, after Perimeter's phases so that neither gateway runs beside the other's load.
        if self.short:
            self.results["litellm"] = {"status": "skipped", "reason": "--short"}
        elif self.args.no_litellm:
            self.results["litellm"] = {"status": "skipped", "reason": "--no-litellm"}
        else:
            self.litellm_phases(nginx, slow_base, rate)
        self.results["elapsed_s"] = round(time.monotonic() - started, 1)
        return 0

    def litellm_self_reported_overhead(self, litellm: Target, count: int = 30) -> float | None:
        """Median of LiteLLM's own x-litellm-overhead-duration-ms over sequential calls: a cross-check."""
        host, port = litellm.base.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        values = []
        try:
            for _ in range(count):
                conn.request("POST", "/v1/chat/completions", body=compact(CHAT_REQUEST),
                             headers={"Content-Type": "application/json", "Authorization": litellm.auth})
                response = conn.getresponse()
                response.read()
                header = response.getheader("x-litellm-overhead-duration-ms")
                if response.status == 200 and header:
                    values.append(float(header))
        finally:
            conn.close()
        return round(statistics.median(values), 3) if values else None

    def litellm_phases(self, nginx: Target, slow_base: str, perimeter_rate: float) -> None:
        """The same measurements through LiteLLM; any failure is recorded, never raised."""
        info = self.results.setdefault("litellm", {})
        info["not_equivalent"] = LITELLM_NOT_EQUIVALENT
        step = "install and start"
        litellm = None
        try:
            litellm = self.start_litellm(nginx, slow_base)
            self.check_chat(litellm)
            info["self_reported_overhead_ms_median"] = self.litellm_self_reported_overhead(litellm)
            step = "peak load"
            self.results["peak"]["litellm"] = peak = self.peak(litellm)
            self.results["rss_hwm_after_load_kb"]["litellm"] = None
            step = "fixed rate"
            fixed = self.results["fixed_rate"]
            rate = min(perimeter_rate, max(10.0, round(peak["rps"] / 2)))
            fixed["litellm_rate"] = rate
            fixed["direct_at_litellm_rate"] = fixed["direct"] if rate == perimeter_rate else self.fixed_rate(nginx, rate)
            fixed["litellm"] = self.fixed_rate(litellm, rate)
            self.results["rss_hwm_after_load_kb"]["litellm"] = status_kb(litellm.pids(), "VmHWM")
            step = "stream probes"
            self.results["streams"].update(self.stream_probes([litellm], slow_base))
            step = "held streams"
            self.results["hold"]["litellm"] = self.hold(litellm, slow_base, self.hold_count)
            info["status"] = "measured"
        except Exception as error:  # LiteLLM is a comparison, never a reason to fail the run
            reason = f"{type(error).__name__}: {error}"
            info.update(status=f"failed at {step}" if litellm else "not measured", reason=reason[-1500:])
            log(f"LiteLLM {info['status']}: {reason[-500:]}")
        finally:
            for name, proc in self.sup.procs:
                if name == "litellm":
                    self.sup.stop(proc)

# ----------------------------------------------------------------------------------------- metadata


def meta(binary: Path, short: bool, args) -> dict:
    cpu_model = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kb = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    path = str(binary)
    mode = "release" if "/release/" in path else "debug" if "/debug/" in path else "unknown"

    def cmd(argv):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (done.stdout + done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None

    git = lambda *a: subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True, timeout=10).stdout.strip()
    stat = binary.stat()
    return {
        "schema": 1,
        "started_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mode": "short" if short else "full",
        "machine": {
            "nproc": os.cpu_count(),
            "cpu_model": cpu_model,
            "mem_total_mib": mem_kb // 1024 if mem_kb else None,
            "kernel": os.uname().release,
        },
        "perimeter_binary": {
            "path": path,
            "build_mode": mode,
            "size_bytes": stat.st_size,
            "modified": dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "git_commit": git("rev-parse", "HEAD") or None,
            "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        },
        "tools": {"nginx": cmd(["nginx", "-v"]), "wrk": cmd(["wrk", "-v"]), "python": sys.version.split()[0]},
        "settings": {"connections": args.connections, "threads": args.threads},
    }


# ------------------------------------------------------------------------------------------- output


def fmt_ms(us) -> str:
    return "-" if us is None else f"{us / 1000:.3f}"


def fmt_num(value, digits=0, suffix="") -> str:
    return "-" if value is None else f"{value:,.{digits}f}{suffix}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def render(results: dict) -> str:
    out = []
    binary = results.get("perimeter_binary", {})
    machine = results.get("machine", {})
    out.append(f"Perimeter benchmark ({results.get('mode')} mode), {binary.get('build_mode')} build {binary.get('path')}")
    out.append(f"machine: {machine.get('nproc')} CPUs, {machine.get('cpu_model')}, {machine.get('mem_total_mib')} MiB")
    peak, fixed = results.get("peak", {}), results.get("fixed_rate", {})
    settings = results.get("settings", {})
    hwm = results.get("rss_hwm_after_load_kb", {})
    if peak:
        c = settings.get("connections")
        rows = []
        labels = {"direct": "direct nginx", "floor": "Perimeter /healthz", "perimeter": "Perimeter", "litellm": "LiteLLM"}
        for key in ("direct", "floor", "perimeter", "litellm"):
            if key not in peak:
                if key == "litellm":
                    info = results.get("litellm", {})
                    rows.append([labels[key], f"({info.get('status', 'not measured')})"] + [""] * 10)
                continue
            p = peak[key]
            lat = p["latency_us"]
            if key == "litellm":
                f, base, rate = fixed.get("litellm"), fixed.get("direct_at_litellm_rate"), fixed.get("litellm_rate")
            else:
                f, base, rate = fixed.get(key), fixed.get("direct"), fixed.get("rate")
            over50 = over99 = None
            if f and base and key != "direct":
                over50 = f["latency_us"]["p50"] - base["latency_us"]["p50"]
                over99 = f["latency_us"]["p99"] - base["latency_us"]["p99"]
            rows.append([
                labels[key], fmt_num(p["rps"]), fmt_ms(lat["p50"]), fmt_ms(lat["p99"]), fmt_ms(lat["p99_9"]),
                fmt_num(rate) if f else "-",
                fmt_ms(f["latency_us"]["p50"]) if f else "-", fmt_ms(f["latency_us"]["p99"]) if f else "-",
                ("+" + fmt_ms(over50)) if over50 is not None else "-",
                ("+" + fmt_ms(over99)) if over99 is not None else "-",
                fmt_num(hwm.get(key, 0) / 1024, 1) if hwm.get(key) else "-",
                fmt_num(p.get("cpu_pct"), 0, "%") if p.get("cpu_pct") is not None else "-",
            ])
        out.append("")
        out.append(f"Request/response (latency in ms; peak = wrk closed loop, {c} connections; "
                   f"rate = open schedule at half of Perimeter's peak)")
        out.append(table(["", f"RPS@{c}", "p50", "p99", "p99.9", "rate", "p50@rate", "p99@rate",
                          "overhead p50", "overhead p99", "RSS MiB", "CPU@peak"], rows))
    streams = results.get("streams")
    if streams:
        rows = []
        for key, label in (("direct", "direct"), ("perimeter", "Perimeter"), ("litellm", "LiteLLM")):
            s = streams.get(key)
            if not s:
                continue
            fx, pc = s["fixed"], s["paced"]
            rows.append([label, fmt_num(fx["ttfb_ms_median"], 3), fmt_num(fx["first_event_ms_median"], 3),
                         fmt_num(fx["gap_ms_median"], 3), fmt_num(fx["total_ms_median"], 3),
                         fmt_num(pc["first_event_ms_median"], 3), fmt_num(pc["gap_ms_median"], 3), fmt_num(pc["gap_ms_p99"], 3)])
        fx0 = next(iter(streams.values()))
        out.append("")
        out.append(f"Streams, medians in ms over {fx0['fixed']['streams']} sequential nginx SSE streams "
                   f"({fx0['fixed']['events_per_stream']} events, sent at once) and {fx0['paced']['streams']} paced streams "
                   f"({fx0['paced']['content_events']} content events 10 ms apart)")
        out.append(table(["", "TTFB", "1st event", "gap", "whole", "paced 1st", "paced gap", "paced gap p99"], rows))
        for key, s in streams.items():
            if not s["fixed"].get("usage_chunk_has_empty_choices", True):
                out.append(f"note: {key}'s usage chunk is not OpenAI's (its choices are not [])")
    hold = results.get("hold")
    if hold:
        rows = []
        for key, label in (("perimeter", "Perimeter"), ("litellm", "LiteLLM")):
            h = hold.get(key)
            if not h:
                continue
            if "error" in h:
                rows.append([label, h["error"][:60]] + [""] * 8)
                continue
            rows.append([label, f"{h['completed']}/{h['streams']}", str(h["max_client_connections_open"]),
                         str(h["max_concurrently_streaming"]), str(h["upstream_peak_concurrent"]),
                         fmt_num(h["all_first_events_by_s"], 1), fmt_num(h["rss_before_kb"] / 1024, 1),
                         fmt_num(h["rss_peak_kb"] / 1024, 1), fmt_num(h["rss_per_connection_kb"], 1),
                         fmt_num(h["wall_s"], 1)])
        h0 = next(iter(hold.values()))
        out.append("")
        out.append(f"Held streams: {h0.get('streams')} opened at once, one event a second for {h0.get('stream_seconds')} s")
        out.append(table(["", "completed", "conns open", "streaming", "upstream", "all 1st by s",
                          "RSS before MiB", "RSS peak MiB", "KiB/conn", "wall s"], rows))
        for key, label in (("perimeter", "Perimeter"), ("litellm", "LiteLLM")):
            h = hold.get(key)
            if h and "error" not in h and h["max_concurrently_streaming"] < h["streams"]:
                out.append(f"note: {label} streamed at most {h['max_concurrently_streaming']} of the {h['streams']} "
                           f"open streams at once (upstream saw {h['upstream_peak_concurrent']}); the others waited "
                           f"for their first event")
    cpu = results.get("perimeter_cpu_over_run")
    if cpu:
        out.append("")
        out.append(f"Perimeter CPU over the whole run: {cpu['cpu_seconds']} s in {cpu['wall_seconds']} s "
                   f"({cpu['cpu_pct']}% of one core); "
                   f"peak RSS {fmt_num(results.get('perimeter_rss_hwm_end_kb', 0) / 1024, 1)} MiB; "
                   f"idle RSS {fmt_num(results.get('perimeter_rss_idle_kb', 0) / 1024, 1)} MiB")
    litellm = results.get("litellm", {})
    if litellm.get("self_reported_overhead_ms_median") is not None:
        out.append(f"LiteLLM's own x-litellm-overhead-duration-ms, median of 30 sequential calls: "
                   f"{litellm['self_reported_overhead_ms_median']} ms")
    if litellm.get("status") not in (None, "measured"):
        out.append(f"LiteLLM: {litellm.get('status')}" + (f" ({litellm.get('reason')[:300]})" if litellm.get("reason") else ""))
    if results.get("problems"):
        out.append("")
        out.append("BROKEN: " + "; ".join(results["problems"]))
    return "\n".join(out)


# --------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark Perimeter against a fixed local upstream.")
    parser.add_argument("--short", action="store_true", help="a few seconds per measurement, no LiteLLM (for CI)")
    parser.add_argument("--perimeter-bin", help="the perimeter binary (default: $PERIMETER_BIN, else "
                        ".build/release/perimeter when present, else .build/debug/perimeter)")
    parser.add_argument("--out", default=str(BENCH_DIR / "results" / "latest.json"), help="JSON results file")
    parser.add_argument("--no-litellm", action="store_true", help="skip LiteLLM in full mode")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--streams", type=int, help="streams held open at once (default 1000, short 100)")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir with configs and logs")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} not found; run bench/run.sh, which installs it", file=sys.stderr)
            return 2

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (`cmd &`)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    bench = Bench(args)
    status = 1
    try:
        status = bench.run()
    except BenchBroken as error:
        bench.problems.add(str(error))
    except KeyboardInterrupt:
        bench.problems.add("interrupted")
        status = 130
    except SystemExit as stop:  # SIGTERM / SIGHUP, from on_signal
        bench.problems.add(f"stopped by signal (exit {stop.code})")
        status = stop.code if isinstance(stop.code, int) else 1
    except Exception as error:
        bench.problems.add(f"harness error: {type(error).__name__}: {error}")
        import traceback
        traceback.print_exc()
    finally:
        bench.sup.stop_all()
    bench.results["problems"] = bench.problems.items
    bench.results["ok"] = not bench.problems.items
    if bench.problems.items and status == 0:
        status = 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(bench.results, indent=2) + "\n")
    print(render(bench.results))
    print(f"\nJSON: {out}")
    if bench.problems.items or args.keep_tmp:
        print(f"configs and logs kept in {bench.tmp}", file=sys.stderr)
    else:
        shutil.rmtree(bench.tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
