#!/usr/bin/env python3
"""The console's first screens at scale: how long every admin API request they make takes with
1,000 keys and 1,000,000 calls in the log, on SQLite (and PostgreSQL with --postgres).

    python3 bench/console_scale.py [--perimeter-bin PATH] [--rows 1000000] [--keys 1000] [--postgres] [--out FILE.json]

For each database: `perimeter serve` on an empty one creates the keys through the admin API (one in
four with a monthly budget); the gateway stops; the calls go straight into the `calls` table the
migrations created (SQLite by Python's sqlite3, PostgreSQL by one INSERT ... SELECT generate_series),
spread evenly over the last 30 days across the keys, their environments and owners, six models and
three providers, one call in twenty denied (three error codes); then the gateway starts again on it
(recovering every budget from the log) and each request is timed five times, keeping the median.

The requests are in REQUESTS, named by the screen that makes them. With Chromium and Selenium at hand
(`--pages`, on by default when both are), every console page is also timed in headless Chromium, from
the navigation to the page's ready mark (bench/harness/browser.py): the first screen as a user sees it.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
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
from calls_at_scale import psql  # noqa: E402
from harness import browser  # noqa: E402

ENVS = ["prod", "staging", "dev", "ci"]
MODELS = ["gpt-4o", "gpt-4o-mini", "o3", "gpt-4.1", "gpt-4.1-mini", "claude-sonnet-4"]
PROVIDERS = ["openai", "azure", "anthropic"]
CODES = ["budget_exceeded", "rate_limited", "ip_not_allowed"]
DAY_MS = 86_400_000
BUDGET_THRESHOLD = 5_000  # calls on the hottest screen; no page is a whole-log export


def utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def requests(key_id: str, model: str) -> dict[str, str]:
    """Every request the console's first screens make, by screen and purpose."""
    now = time.time()
    today = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(now))
    weekday = time.gmtime(now).tm_wday  # Monday 0: the week starts on Monday, UTC
    week = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(now - weekday * 86400))
    month = time.strftime("%Y-%m-01T00:00:00Z", time.gmtime(now))
    return {
        "keys: GET /keys": "/keys",
        "overview: spend by env, today": f"/spend?group_by=env&since={today}",
        "overview: spend by env, this week": f"/spend?group_by=env&since={week}",
        "overview: spend by env, this month": f"/spend?group_by=env&since={month}",
        "keys: spend by key, this month": f"/spend?group_by=key&since={month}",
        "overview: series by hour and env, 7 days": f"/spend/series?bucket=hour&group_by=env&since={utc(now - 7 * 86400)}",
        "overview: calls per minute, 60 min": "/spend/series?bucket=minute",
        "overview: series by day and model, 30 days": "/spend/series?bucket=day&group_by=model",
        "calls: newest 50": "/calls?limit=50",
        "calls: of one key": f"/calls?limit=50&key_id={key_id}",
        "calls: of one env": "/calls?limit=50&env=staging",
        "calls: of one model": f"/calls?limit=50&model={model}",
        "calls: denied": "/calls?limit=50&outcome=denied",
        "calls: since a day ago": f"/calls?limit=50&since={utc(now - 86400)}",
        "calls: until a week ago": f"/calls?limit=50&until={utc(now - 7 * 86400)}",
        "key detail: denials by code": f"/calls/breakdown?by=error_code&key_id={key_id}&since={month}",
        "key detail: source addresses": f"/calls/breakdown?by=client_ip&key_id={key_id}&since={month}",
        "key detail: series by day and model, 30 days": f"/spend/series?bucket=day&group_by=model&key_id={key_id}&since={utc(now - 30 * 86400)}",
        "overview: series by day and key, 30 days": f"/spend/series?bucket=day&group_by=key&since={utc(now - 30 * 86400)}",
        "alerts: newest 50": "/alerts?limit=50",
        "audit: newest 50": "/audit?limit=50",
        "inventory": "/inventory",
        "secrets": "/secrets",
    }


def admin(base: str, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        base + "/admin/v1" + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.status, response.read()


def timed(base: str, path: str, runs: int = 5) -> dict:
    times = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        _, body = admin(base, "GET", path)
        times.append(time.perf_counter() - started)
        size = len(body)
    return {"median_ms": round(statistics.median(times) * 1000, 1), "bytes": size}


class Gateway:
    """`perimeter serve` on one database, started and stopped by the benchmark."""

    def __init__(self, binary: Path, database: str, tmp: Path, supervisor: Supervisor):
        self.binary, self.database, self.tmp, self.supervisor = binary, database, tmp, supervisor
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PERIMETER_")}
        self.env.update(HOME=str(tmp), PERIMETER_ADMIN_TOKEN=ADMIN_TOKEN)
        self.process = None

    def migrate(self) -> None:
        done = subprocess.run([str(self.binary), "db", "migrate", "--database", self.database], env=self.env,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise BenchBroken(f"migrate failed: {done.stderr.strip()[-500:]}")

    def start(self, name: str) -> tuple[str, float]:
        config = self.tmp / f"{name}.yaml"
        config.write_text(f"database: {self.database}\n")
        started = time.perf_counter()
        self.process = self.supervisor.start(
            name, [str(self.binary), "serve", "--config", str(config), "--listen", f"{LOOPBACK}:0"], self.env,
            capture_stdout=True, cwd=str(self.tmp))
        match = wait_for_line(self.process, r"Perimeter is listening on (http://127\.0\.0\.1:\d+)", self.tmp / f"{name}.out", 900)
        return match.group(1), round(time.perf_counter() - started, 2)

    def stop(self) -> None:
        self.supervisor.stop(self.process, grace=30)


def create_keys(base: str, count: int) -> list[dict]:
    keys = []
    for i in range(count):
        body = {"name": f"bench-{i}", "env": ENVS[i % len(ENVS)], "owner": f"team-{i % 50}"}
        if i % 4 == 0:
            body["limits"] = {"budget": {"usd": 100 + i, "period": "month"}}
        _, answer = admin(base, "POST", "/keys", body)
        key = json.loads(answer)
        keys.append({"id": key["id"], "name": key["name"], "env": key["env"], "owner": key["owner"]})
    return keys


def call_rows(keys: list[dict], rows: int, now_ms: int):
    """Row g of the log: evenly over the last 30 days, keys in turn, one in twenty denied."""
    for g in range(rows):
        key = keys[g % len(keys)]
        denied = g % 20 == 0
        yield (
            f"req_bench{g:09d}", now_ms - (g * 30 * DAY_MS) // rows, key["id"], key["name"], key["env"], key["owner"],
            f"10.{g % 7}.{(g // 7) % 3}.{g % 11}", PROVIDERS[g % 3], MODELS[g % len(MODELS)], "chat", g % 3 == 0,
            429 if denied else 200, "denied" if denied else ("upstream_error" if g % 97 == 0 else "ok"),
            0 if denied else 100 + g % 900, 0, 0, 0 if denied else 10 + g % 300, None if denied else 1000 + g % 50_000,
            100 + g % 900, CODES[g % 3] if denied else None, 1, None if denied else "provider",
        )


COLUMNS = ("id, time, key_id, key_name, env, owner, client_ip, provider, model, operation, stream, status, outcome, "
           "input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, cost_nanos, latency_ms, error_code, "
           "key_generation, usage_source")


def fill_sqlite(path: Path, keys: list[dict], rows: int, now_ms: int) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    with db:
        db.executemany(f"INSERT INTO calls ({COLUMNS}) VALUES ({', '.join('?' * 22)})", call_rows(keys, rows, now_ms))
    db.execute("ANALYZE")
    db.close()


def fill_postgres(url: str, keys: list[dict], rows: int, now_ms: int) -> None:
    """The same rows as call_rows, made by the server: the keys go in a temporary table first."""
    values = ", ".join(f"({i}, '{k['id']}', '{k['name']}', '{k['env']}', '{k['owner']}')" for i, k in enumerate(keys))
    arrays = {name: "ARRAY[" + ", ".join(f"'{v}'" for v in items) + "]" for name, items in
              (("providers", PROVIDERS), ("models", MODELS), ("codes", CODES))}
    psql(url, f"""
        CREATE TEMPORARY TABLE bench_keys (n INT, id TEXT, name TEXT, env TEXT, owner TEXT);
        INSERT INTO bench_keys VALUES {values};
        INSERT INTO calls ({COLUMNS}, instance)
        SELECT 'req_bench' || lpad(g::text, 9, '0'), {now_ms} - (g::bigint * {30 * DAY_MS} / {rows}), k.id, k.name, k.env, k.owner,
               '10.' || (g % 7) || '.' || ((g / 7) % 3) || '.' || (g % 11), ({arrays['providers']})[1 + g % 3],
               ({arrays['models']})[1 + g % {len(MODELS)}], 'chat', g % 3 = 0,
               CASE WHEN g % 20 = 0 THEN 429 ELSE 200 END,
               CASE WHEN g % 20 = 0 THEN 'denied' WHEN g % 97 = 0 THEN 'upstream_error' ELSE 'ok' END,
               CASE WHEN g % 20 = 0 THEN 0 ELSE 100 + g % 900 END, 0, 0, CASE WHEN g % 20 = 0 THEN 0 ELSE 10 + g % 300 END,
               CASE WHEN g % 20 = 0 THEN NULL ELSE 1000 + g % 50000 END, 100 + g % 900,
               CASE WHEN g % 20 = 0 THEN ({arrays['codes']})[1 + g % 3] ELSE NULL END, 1,
               CASE WHEN g % 20 = 0 THEN NULL ELSE 'provider' END, 'gw_bench'
        FROM generate_series(0, {rows - 1}) AS g JOIN bench_keys k ON k.n = g % {len(keys)};
        ANALYZE;
    """)


def run_database(name: str, binary: Path, database: str, tmp: Path, supervisor: Supervisor, args, fill) -> dict:
    gateway = Gateway(binary, database, tmp, supervisor)
    gateway.migrate()
    base, _ = gateway.start(f"{name}-keys")
    created = time.perf_counter()
    keys = create_keys(base, args.keys)
    keys_seconds = round(time.perf_counter() - created, 1)
    gateway.stop()
    now_ms = int(time.time() * 1000)
    filled = time.perf_counter()
    fill(keys, args.rows, now_ms)
    fill_seconds = round(time.perf_counter() - filled, 1)
    log(f"{name}: {args.keys} keys in {keys_seconds} s, {args.rows} calls in {fill_seconds} s")
    base, start_seconds = gateway.start(f"{name}-serve")
    results = {
        "keys": args.keys, "rows": args.rows, "keys_seconds": keys_seconds, "fill_seconds": fill_seconds,
        "gateway_start_seconds": start_seconds, "requests": {},
    }
    for label, path in requests(keys[7]["id"], MODELS[2]).items():
        results["requests"][label] = {"path": path, **timed(base, path)}
        log(f"{name}: {label}: {results['requests'][label]['median_ms']} ms")
    if args.pages:
        results["pages"] = browser.measure_pages(base, ADMIN_TOKEN, keys[7]["id"])
        for page, timing in results["pages"].items():
            log(f"{name}: page {page}: {timing['median_ms']} ms")
    slow = {label: r["median_ms"] for label, r in results["requests"].items() if r["median_ms"] >= 300}
    slow.update({f"page {page}": r["median_ms"] for page, r in results.get("pages", {}).items() if r["median_ms"] >= 300})
    results["over_300_ms"] = slow
    gateway.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--perimeter-bin", default=str(REPO / ".build" / "release" / "perimeter"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=1_000)
    parser.add_argument("--postgres", action="store_true", help="also PostgreSQL (a throwaway cluster, scripts/postgres)")
    parser.add_argument("--pages", action=argparse.BooleanOptionalAction, default=browser.available(),
                        help="time every console page in headless Chromium (default: when chromium and selenium are here)")
    parser.add_argument("--out", default=str(BENCH_DIR / "results" / "console-scale-latest.json"))
    args = parser.parse_args()
    binary = Path(args.perimeter_bin)
    if not binary.exists():
        print(f"bench: no perimeter binary at {binary}; run swift build -c release", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="perimeter-console-"))
    tmp.chmod(0o755)
    cluster = tmp / "pg"
    supervisor = Supervisor(tmp)
    results: dict = {"machine": {"cpus": os.cpu_count()}, "budget_ms": 300}
    try:
        database = tmp / "perimeter.db"
        results["sqlite"] = run_database(
            "sqlite", binary, f"sqlite:{database}", tmp, supervisor, args,
            lambda keys, rows, now: fill_sqlite(database, keys, rows, now))
        if args.postgres:
            started = subprocess.run([str(REPO / "scripts/postgres"), "start", str(cluster)], capture_output=True, text=True,
                                     timeout=300)
            if started.returncode != 0:
                raise BenchBroken(f"PostgreSQL did not start: {started.stderr.strip()[-500:]}")
            url = started.stdout.strip()
            results["postgres"] = run_database(
                "postgres", binary, url, tmp, supervisor, args, lambda keys, rows, now: fill_postgres(url, keys, rows, now))
        print(json.dumps(results, indent=2))
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        return 0
    except BenchBroken as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop_all()
        if args.postgres:
            subprocess.run([str(REPO / "scripts/postgres"), "stop", str(cluster)], timeout=120)


if __name__ == "__main__":
    sys.exit(main())
