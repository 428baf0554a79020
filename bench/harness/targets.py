"""The targets a run starts and measures: the fixed upstreams, Perimeter and LiteLLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness.fixtures import (
    ADMIN_TOKEN, BENCH_DIR, LITELLM_MASTER_KEY, LITELLM_SPEC, LOOPBACK, PROVIDER_KEY, REPO, SLOW_MODEL, chat_body,
    nginx_quote, sse_body,
)
from harness.processes import BenchBroken, Target, free_port, log, wait_for_line, wait_http


class Targets:
    """Starts what a run measures: nginx as the fixed upstream, the slow upstream, Perimeter, LiteLLM."""

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

