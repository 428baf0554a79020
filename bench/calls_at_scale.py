#!/usr/bin/env python3
"""The call log at scale on PostgreSQL: how long the admin API's `calls` and `spend` take, and a
gateway's start, with N million calls in the log.

    python3 bench/calls_at_scale.py [--perimeter-bin PATH] [--rows 10000000] [--out FILE.json]

Starts a throwaway PostgreSQL (scripts/postgres), lets `perimeter db migrate` create the schema,
fills `calls` with N rows spread over the last 30 days (100 keys, 4 environments, 5 models, one call
in 20 denied) by one INSERT ... SELECT generate_series, then starts `perimeter serve` on it (the
start recovers every key's budget from the log) and times each query five times, keeping the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.fixtures import ADMIN_TOKEN, BENCH_DIR, LOOPBACK, REPO  # noqa: E402
from harness.processes import BenchBroken, Supervisor, log, wait_for_line  # noqa: E402

FILL = """
INSERT INTO calls (id, time, key_id, key_name, env, owner, client_ip, provider, model, operation, stream, status,
                   outcome, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, cost_nanos,
                   latency_ms, error_code, key_generation, usage_source, instance)
SELECT 'call_' || g,
       {now} - (g::bigint * 2592000000 / {rows}),
       'key_bench' || (g % 100), 'bench-' || (g % 100), (ARRAY['prod','staging','dev','ci'])[1 + g % 4], NULL,
       '10.0.' || (g % 200) || '.' || (g % 250), 'openai',
       (ARRAY['gpt-4o','gpt-4o-mini','o3','gpt-4.1','gpt-4.1-mini'])[1 + g % 5], 'chat', g % 3 = 0,
       CASE WHEN g % 20 = 0 THEN 429 ELSE 200 END,
       CASE WHEN g % 20 = 0 THEN 'denied' ELSE 'ok' END,
       CASE WHEN g % 20 = 0 THEN 0 ELSE 100 + g % 900 END, 0, 0, CASE WHEN g % 20 = 0 THEN 0 ELSE 10 + g % 300 END,
       CASE WHEN g % 20 = 0 THEN NULL ELSE 1000 + g % 50000 END, 100 + g % 900,
       CASE WHEN g % 20 = 0 THEN 'rate_limited' ELSE NULL END, 1, 'reported', 'gw_bench'
FROM generate_series(1, {rows}) AS g
"""


def psql(url: str, sql: str, timeout: float = 3600) -> str:
    done = subprocess.run(["psql", url.split("?")[0], "-v", "ON_ERROR_STOP=1", "-Atc", sql], capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise BenchBroken(f"psql failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def timed_get(base: str, path: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--perimeter-bin", default=str(REPO / ".build" / "release" / "perimeter"))
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--out", default=str(BENCH_DIR / "results" / "calls-at-scale-latest.json"))
    args = parser.parse_args()
    binary = Path(args.perimeter_bin)
    if not binary.exists():
        print(f"bench: no perimeter binary at {binary}; run swift build -c release", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="perimeter-scale-"))
    tmp.chmod(0o755)
    cluster = tmp / "pg"
    supervisor = Supervisor(tmp)
    try:
        started = subprocess.run([str(REPO / "scripts/postgres"), "start", str(cluster)], capture_output=True, text=True, timeout=300)
        if started.returncode != 0:
            raise BenchBroken(f"PostgreSQL did not start: {started.stderr.strip()[-500:]}")
        url = started.stdout.strip()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERIMETER_")}
        env.update(HOME=str(tmp), PERIMETER_ADMIN_TOKEN=ADMIN_TOKEN)
        migrated = subprocess.run([str(binary), "db", "migrate", "--database", url], env=env, capture_output=True, text=True, timeout=120)
        if migrated.returncode != 0:
            raise BenchBroken(f"migrate failed: {migrated.stderr.strip()[-500:]}")
        now = int(time.time() * 1000)
        fill_started = time.perf_counter()
        psql(url, FILL.format(now=now, rows=args.rows))
        psql(url, "ANALYZE calls")
        fill_seconds = round(time.perf_counter() - fill_started, 1)
        size = psql(url, "SELECT pg_size_pretty(pg_total_relation_size('calls'))")
        log(f"{args.rows} calls written in {fill_seconds} s ({size})")
        config = tmp / "perimeter.yaml"
        config.write_text(f"database: {url}\n")
        serve_started = time.perf_counter()
        process = supervisor.start("gateway", [str(binary), "serve", "--config", str(config), "--listen", f"{LOOPBACK}:0"], env,
                                   capture_stdout=True, cwd=str(tmp))
        match = wait_for_line(process, r"Perimeter is listening on (http://127\.0\.0\.1:\d+)", tmp / "gateway.out", 600)
        start_seconds = round(time.perf_counter() - serve_started, 2)
        base = match.group(1)
        month = time.strftime("%Y-%m-01T00:00:00Z", time.gmtime())
        day = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(time.time() - 86400))
        # Cut mid-hour at both ends: the rollup answers the whole hours, the log the two cut ones.
        cut = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400 - 1800))
        cut_end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1800))
        results = {
            "rows": args.rows, "table_size": size, "fill_seconds": fill_seconds, "gateway_start_seconds": start_seconds,
            "median_ms": {
                "calls newest 100": timed_get(base, "/admin/v1/calls?limit=100"),
                "calls of one key, newest 100": timed_get(base, "/admin/v1/calls?key_id=key_bench7&limit=100"),
                "spend by key, this month": timed_get(base, f"/admin/v1/spend?group_by=key&since={month}"),
                "spend by model, last day": timed_get(base, f"/admin/v1/spend?group_by=model&since={day}"),
                "spend by env, all time": timed_get(base, "/admin/v1/spend?group_by=env"),
                "spend by key, 24 h cut mid-hour": timed_get(base, f"/admin/v1/spend?group_by=key&since={cut}&until={cut_end}"),
            },
            "machine": {"cpus": os.cpu_count()},
        }
        print(json.dumps(results, indent=2))
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        return 0
    except BenchBroken as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop_all()
        subprocess.run([str(REPO / "scripts/postgres"), "stop", str(cluster)], timeout=120)


if __name__ == "__main__":
    sys.exit(main())
