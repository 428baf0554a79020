#!/usr/bin/env python3
"""One Perimeter on SQLite against two Perimeters on one PostgreSQL, behind the same load balancer.

    python3 bench/cluster.py [--perimeter-bin PATH] [--out FILE.json] [--short]

Starts on 127.0.0.1: the fixed nginx upstream of bench/run.py, a throwaway PostgreSQL
(scripts/postgres), and a second nginx as the load balancer (keep-alive to its gateways, round
robin). Then, for each setup (the LB straight to the upstream; one gateway on SQLite; two gateways
on PostgreSQL), the same key (a budget, rate limits, an address and model allow-list) at peak
(64 connections) and at a fixed rate (half the lower peak), and reports requests per second and the
latency each gateway setup adds over the LB alone. Needs nginx and wrk (bench/run.sh installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.fixtures import ADMIN_TOKEN, BENCH_DIR, CHAT_REQUEST, LOOPBACK, PROVIDER_KEY, REPO, compact  # noqa: E402
from harness.load import run_wrk, wrk_errors  # noqa: E402
from harness.processes import (  # noqa: E402
    BenchBroken, Problems, Supervisor, Target, cpu_seconds, free_port, log, wait_for_line, wait_http,
)
from harness.targets import Targets  # noqa: E402

BALANCER = """worker_processes 1;
daemon off;
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path @PREFIX@/client_body;
    proxy_temp_path @PREFIX@/proxy;
    fastcgi_temp_path @PREFIX@/fastcgi;
    uwsgi_temp_path @PREFIX@/uwsgi;
    scgi_temp_path @PREFIX@/scgi;
    upstream gateways {
@SERVERS@
        keepalive 128;
    }
    server {
        listen 127.0.0.1:@PORT@ backlog=4096;
        location / {
            proxy_pass http://gateways;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
"""


class Cluster(Targets):
    def __init__(self, args) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="perimeter-cluster-bench-"))
        self.sup = Supervisor(self.tmp)
        self.problems = Problems()
        self.results: dict = {}
        self.body_file = self.tmp / "chat-request.json"
        self.body_file.write_text(compact(CHAT_REQUEST))
        self.seconds = 3 if args.short else 10
        self.postgres_dir: Path | None = None

    def balancer(self, name: str, servers: list[str]) -> Target:
        prefix = self.tmp / name
        prefix.mkdir()
        port = free_port()
        conf = (BALANCER.replace("@PREFIX@", str(prefix)).replace("@PORT@", str(port))
                .replace("@SERVERS@", "\n".join(f"        server {s};" for s in servers)))
        (prefix / "nginx.conf").write_text(conf)
        proc = self.sup.start(name, ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e",
                                     str(prefix / "error.log")], dict(os.environ))
        base = f"http://{LOOPBACK}:{port}"
        time.sleep(0.5)
        return Target(name, name, base, None, proc.pid)

    def gateway(self, binary: Path, name: str, database: str, upstream: Target) -> tuple[str, int]:
        config = self.tmp / f"{name}.yaml"
        config.write_text(f"""database: {database}
call_log_flush_interval: 200
providers:
  - name: openai
    kind: openai
    base_url: {upstream.base}/v1
    api_key: env:BENCH_PROVIDER_KEY
    models: ["gpt-*"]
""")
        home = self.tmp / f"{name}-home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERIMETER_")}
        env.update(HOME=str(home), BENCH_PROVIDER_KEY=PROVIDER_KEY, PERIMETER_ADMIN_TOKEN=ADMIN_TOKEN)
        self.env = env
        proc = self.sup.start(name, [str(binary), "serve", "--config", str(config), "--listen", f"{LOOPBACK}:0"], env,
                              capture_stdout=True, cwd=str(self.tmp))
        match = wait_for_line(proc, r"Perimeter is listening on (http://127\.0\.0\.1:\d+)", self.tmp / f"{name}.out", 90)
        log(f"{name} on {match.group(1)} (pid {proc.pid})")
        return match.group(1), proc.pid

    def key(self, binary: Path, base: str) -> str:
        argv = [str(binary), "keys", "create", "--name", "bench", "--env", "bench", "--budget", "1000000",
                "--rpm", "10000000", "--tpm", "10000000000", "--allow-ip", "127.0.0.0/8", "--models", "gpt-4o*", "--json"]
        done = subprocess.run(argv, env=dict(self.env, PERIMETER_URL=base), capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise BenchBroken(f"keys create failed: {done.stderr.strip()}")
        return json.loads(done.stdout)["key"]

    def measure(self, target: Target, pids: list[int], rate: float | None = None) -> dict:
        warm = run_wrk(target, script="chat.lua", connections=64, threads=2, duration=2, body_file=self.body_file)
        cpu0 = cpu_seconds(pids)
        script = "paced.lua" if rate else "chat.lua"
        result = run_wrk(target, script=script, connections=64, threads=2, duration=self.seconds, body_file=self.body_file,
                         rate=rate)
        for res in (warm, result):
            error = wrk_errors(res)
            if error:
                raise BenchBroken(f"{target.label}: {error}")
        cpu = cpu_seconds(pids) - cpu0
        result["gateway_cpu_us_per_request"] = round(1e6 * cpu / result["requests"], 1) if pids and result["requests"] else None
        log(f"{target.label}{' at ' + str(int(rate)) + ' req/s' if rate else ' peak'}: {result['rps']:.0f} req/s, "
            f"p50 {result['latency_us']['p50']} µs, p99 {result['latency_us']['p99']} µs")
        return result

    def run(self) -> None:
        binary = self.perimeter_binary()
        upstream = self.start_nginx()
        self.postgres_dir = self.tmp / "pg"
        self.tmp.chmod(0o755)
        started = subprocess.run([str(REPO / "scripts/postgres"), "start", str(self.postgres_dir)], capture_output=True,
                                 text=True, timeout=300)
        if started.returncode != 0:
            raise BenchBroken(f"PostgreSQL did not start: {started.stderr.strip()[-500:]}")
        postgres = started.stdout.strip()

        single_base, single_pid = self.gateway(binary, "sqlite", f"sqlite:{self.tmp}/perimeter.db", upstream)
        pair = [self.gateway(binary, f"postgres-{i}", postgres, upstream) for i in range(2)]
        key_single = self.key(binary, single_base)
        key_pair = self.key(binary, pair[0][0])
        time.sleep(2)  # the key reaches the second instance; leases and instance shares settle

        strip = lambda base: base.removeprefix("http://")  # noqa: E731
        setups = {
            "direct": (self.balancer("lb-direct", [strip(upstream.base)]), f"Bearer {PROVIDER_KEY}", [], "LB -> upstream"),
            "sqlite_1": (self.balancer("lb-sqlite", [strip(single_base)]), f"Bearer {key_single}", [single_pid],
                         "LB -> 1 Perimeter on SQLite"),
            "postgres_2": (self.balancer("lb-postgres", [strip(b) for b, _ in pair]), f"Bearer {key_pair}",
                           [pid for _, pid in pair], "LB -> 2 Perimeters on PostgreSQL"),
        }
        targets = {}
        for name, (lb, auth, pids, label) in setups.items():
            targets[name] = (Target(name, label, lb.base, auth, None), pids)
            wait_http(lb.base + ("/healthz" if name == "direct" else "/healthz"), 15)

        peak = {name: self.measure(target, pids) for name, (target, pids) in targets.items()}
        rate = max(10.0, round(min(peak["sqlite_1"]["rps"], peak["postgres_2"]["rps"]) / 2))
        fixed = {name: self.measure(target, pids, rate) for name, (target, pids) in targets.items()}
        self.results = {
            "machine": {"cpus": os.cpu_count()}, "seconds": self.seconds, "request": CHAT_REQUEST,
            "peak": peak, "fixed_rate": {"rate": rate, **fixed},
            "added_at_fixed_rate_us": {
                name: {q: fixed[name]["latency_us"][q] - fixed["direct"]["latency_us"][q] for q in ("p50", "p99")}
                for name in ("sqlite_1", "postgres_2")
            },
        }

    def stop(self) -> None:
        self.sup.stop_all()
        if self.postgres_dir and self.postgres_dir.exists():
            subprocess.run([str(REPO / "scripts/postgres"), "stop", str(self.postgres_dir)], timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--perimeter-bin")
    parser.add_argument("--out", default=str(BENCH_DIR / "results" / "cluster-latest.json"))
    parser.add_argument("--short", action="store_true")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} not found; run bench/run.sh once, which installs it", file=sys.stderr)
            return 2
    bench = Cluster(args)
    try:
        bench.run()
    except BenchBroken as error:
        bench.problems.add(str(error))
    finally:
        bench.stop()
    bench.results["problems"] = bench.problems.items
    Path(args.out).write_text(json.dumps(bench.results, indent=2) + "\n")
    if not bench.problems.items:
        print(f"\n{'setup':36} {'peak req/s':>10} {'rate':>6} {'p50 µs':>8} {'p99 µs':>8} {'+p50':>7} {'+p99':>7}")
        added = bench.results["added_at_fixed_rate_us"]
        for name in ("direct", "sqlite_1", "postgres_2"):
            peak, fixed = bench.results["peak"][name], bench.results["fixed_rate"][name]
            plus = added.get(name, {"p50": 0, "p99": 0})
            print(f"{fixed.get('label', name):36} {peak['rps']:>10.0f} {bench.results['fixed_rate']['rate']:>6.0f} "
                  f"{fixed['latency_us']['p50']:>8} {fixed['latency_us']['p99']:>8} {plus['p50']:>7} {plus['p99']:>7}")
    print(f"\nJSON: {args.out}")
    for problem in bench.problems.items:
        print(f"problem: {problem}", file=sys.stderr)
    shutil.rmtree(bench.tmp, ignore_errors=True)
    return 1 if bench.problems.items else 0


if __name__ == "__main__":
    sys.exit(main())
