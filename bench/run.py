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
import http.client
import json
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.fixtures import (
    ADMIN_TOKEN, ANSWER_PIECES, BENCH_DIR, CACHED_TOKENS, CHAT_REQUEST, COMPLETION_TOKENS, LITELLM_NOT_EQUIVALENT,
    PROMPT_TOKENS, SLOW_CACHED_TOKENS, SLOW_MODEL, SLOW_PROMPT_TOKENS, STREAM_REQUEST, compact,
)
from harness.load import hold_streams, probe_streams, run_wrk, wrk_errors
from harness.processes import BenchBroken, Problems, Supervisor, Target, cpu_seconds, http_get, log, status_kb
from harness.report import meta, render
from harness.targets import Targets


# ---------------------------------------------------------------------------------------- the bench


class Bench(Targets):
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

