"""Reporting: the run's metadata and the table printed from the JSON results."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from harness.fixtures import REPO


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
