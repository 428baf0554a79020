"""Runs the real `perimeter` binary for the end-to-end tests: the gateway (`perimeter serve`) and
its CLI, each in a temporary directory with its own HOME and database."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from fractions import Fraction
from math import ceil
from pathlib import Path

import anthropic
import openai

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"Perimeter is listening on (http://(?:127\.0\.0\.1|\[::1\]):(\d+))")
ADMIN_TOKEN_PATTERN = re.compile(r"prmadm_[0-9A-Za-z]{38}")
VIRTUAL_KEY_PATTERN = re.compile(r"prm_[a-z0-9][a-z0-9-]*_[0-9A-Za-z]{38}")

# Environment variables that would change how the binary or the SDKs behave if inherited.
_SCRUBBED_PREFIXES = ("PERIMETER_", "OPENAI_", "ANTHROPIC_")
_SCRUBBED = {"XDG_CONFIG_HOME", "GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}


def perimeter_bin() -> str:
    configured = os.environ.get("PERIMETER_BIN")
    path = Path(configured) if configured else REPO_ROOT / ".build" / "debug" / "perimeter"
    if not path.is_absolute():
        path = path.resolve() if path.exists() else REPO_ROOT / path
    # The binary may be being rebuilt: give it a moment to reappear (once: a wrong path fails fast after).
    deadline = time.monotonic() + (5 if _missing_binary else 90)
    while not (path.is_file() and os.access(path, os.X_OK)):
        if time.monotonic() > deadline:
            _missing_binary.add(str(path))
            raise RuntimeError(f"perimeter binary not found at {path}; build it or set PERIMETER_BIN")
        time.sleep(0.5)
    return str(path)


_missing_binary: set[str] = set()


def clean_environment(**extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _SCRUBBED and not name.startswith(_SCRUBBED_PREFIXES)
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def _retrying(start):
    """Runs `start()`, retrying while the binary is briefly missing or being written."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return start()
        except OSError as error:
            if error.errno not in (errno.ENOENT, errno.ETXTBSY, errno.ENOEXEC) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def run_cli(args, env: dict[str, str], cwd: Path, timeout: float = 30, input: str | None = None) -> subprocess.CompletedProcess:
    """Runs `perimeter ARGS`; `input`, when given, is written to its standard input."""
    return _retrying(
        lambda: subprocess.run(
            [perimeter_bin(), *args], env=env, cwd=str(cwd), capture_output=True, text=True, timeout=timeout,
            input=input,
        )
    )


def expected_cost_nanos(usage: dict, price: dict) -> int:
    """Cost in nanodollars, computed exactly: uncached input, cached input, cache writes and output at
    USD per million tokens, rounded up to the next nanodollar."""
    p = {k: Fraction(str(v)) for k, v in price.items()}
    cached_in = p.get("cached_input", p["input"])
    cache_write = p.get("cache_write", p["input"])
    uncached = usage["input_tokens"] - usage["cached_input_tokens"] - usage.get("cache_write_tokens", 0)
    micro = (
        uncached * p["input"]
        + usage["cached_input_tokens"] * cached_in
        + usage.get("cache_write_tokens", 0) * cache_write
        + usage["output_tokens"] * p["output"]
    )
    return ceil(micro * 1000)


def nanos(cost_usd) -> int:
    assert isinstance(cost_usd, (int, float)), f"cost_usd is {cost_usd!r}"
    return round(cost_usd * 1e9)


class Gateway:
    """One `perimeter serve` process with its own directory, HOME, database and logs."""

    def __init__(
        self,
        workdir: Path,
        *,
        config_text: str | None = None,
        admin_token: str | None = None,
        extra_env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        database: Path | None = None,
        home: Path | None = None,
        name: str = "gateway",
        listen: str = "127.0.0.1:0",
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.listen = listen
        self.home = Path(home) if home else self.workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.database = Path(database) if database else self.workdir / "perimeter.db"
        self.admin_token = admin_token
        self.config_path: Path | None = None
        if config_text is not None:
            self.config_path = self.workdir / "perimeter.yaml"
            self.config_path.write_text(config_text)
        self.extra_env = dict(extra_env or {})
        self.extra_args = list(extra_args or [])
        self.process: subprocess.Popen | None = None
        self.url: str | None = None
        self.port: int | None = None
        self.stdout_path = self.workdir / f"{name}.stdout.log"
        self.stderr_path = self.workdir / f"{name}.stderr.log"
        self._stdout_lines: list[str] = []
        self._stdout_lock = threading.Lock()
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None
        self.exit_code: int | None = None

    # MARK: lifecycle

    def environment(self) -> dict[str, str]:
        # extra_env may name another database (a postgres:// address) instead of the SQLite file.
        settings = {"HOME": str(self.home), "PERIMETER_DATABASE": f"sqlite:{self.database}", "PERIMETER_ADMIN_TOKEN": self.admin_token}
        settings.update(self.extra_env)
        return clean_environment(**settings)

    def start(self, timeout: float = 60) -> "Gateway":
        args = [perimeter_bin(), "serve", "--listen", self.listen]
        if self.config_path:
            args += ["--config", str(self.config_path)]
        args += self.extra_args
        stderr = open(self.stderr_path, "ab")
        try:
            self.process = _retrying(
                lambda: subprocess.Popen(
                    args,
                    cwd=str(self.workdir),
                    env=self.environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    start_new_session=True,
                )
            )
        finally:
            stderr.close()
        self._listening.clear()
        self._reader = threading.Thread(target=self._read_stdout, args=(self.process,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.05):
            if self.process.poll() is not None:
                self._reader.join(2)
                raise RuntimeError(
                    f"perimeter serve exited with {self.process.returncode} before listening\n"
                    f"stdout:\n{self.stdout_text()}\nstderr:\n{self.stderr_text()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"perimeter serve did not report listening in {timeout}s\nstderr:\n{self.stderr_text()}")
        # The last address: after a restart, stdout holds the earlier run's too.
        match = list(LISTENING.finditer(self.stdout_text()))[-1]
        self.url, self.port = match.group(1), int(match.group(2))
        return self

    def _read_stdout(self, process: subprocess.Popen) -> None:
        with open(self.stdout_path, "ab") as log:
            for raw in iter(process.stdout.readline, b""):
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace")
                with self._stdout_lock:
                    self._stdout_lines.append(line)
                # The banner's last line: the listening address and the providers have both been printed.
                if line.startswith("  Providers:") and LISTENING.search(self.stdout_text()):
                    self._listening.set()
        process.stdout.close()

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, then wait; returns the exit status (killing it, and returning -9, if it hangs)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.dump_stacks()
                self.kill()
                self.exit_code = -9
                return -9
        if self._reader:
            self._reader.join(5)
        self.exit_code = self.process.returncode
        return self.exit_code

    def dump_stacks(self) -> None:
        """Writes every thread's stack of a hung process to hang-stacks.txt in its workdir (with gdb, if here),
        and the lines naming Perimeter's own code to its stderr text, so a failure report shows where it hung."""
        if self.process is None or shutil.which("gdb") is None:
            return
        try:
            traced = subprocess.run(
                ["gdb", "-p", str(self.process.pid), "-batch", "-ex", "thread apply all bt 30"],
                capture_output=True, text=True, timeout=120).stdout
        except subprocess.TimeoutExpired:
            return
        (self.workdir / "hang-stacks.txt").write_text(traced)
        own = [line for line in traced.splitlines() if "Perimeter" in line or line.startswith("Thread ")]
        with open(self.stderr_path, "a", encoding="utf-8") as stderr:
            stderr.write(f"stacks at the hang ({self.workdir / 'hang-stacks.txt'}):\n" + "\n".join(own[-60:]) + "\n")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stdout_text(self) -> str:
        with self._stdout_lock:
            return "".join(self._stdout_lines)

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    # MARK: CLI

    def cli_environment(self, token: str | None = "__default__", **extra) -> dict[str, str]:
        return clean_environment(
            HOME=str(self.home),
            PERIMETER_URL=self.url,
            PERIMETER_ADMIN_TOKEN=self.admin_token if token == "__default__" else token,
            **extra,
        )

    def cli(
        self, *args: str, token: str | None = "__default__", env: dict | None = None, check: bool = True,
        timeout: float = 30, input: str | None = None,
    ):
        environment = self.cli_environment(token)
        if env:
            environment.update(env)
        result = run_cli(list(args), environment, self.workdir, timeout=timeout, input=input)
        if check:
            assert result.returncode == 0, (
                f"perimeter {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def cli_json(self, *args: str, **kwargs):
        result = self.cli(*args, "--json", **kwargs)
        return json.loads(result.stdout)

    def create_key(self, name: str, env: str, owner: str | None = None) -> dict:
        args = ["keys", "create", "--name", name, "--env", env]
        if owner:
            args += ["--owner", owner]
        return self.cli_json(*args)

    def calls(self, *args: str) -> list[dict]:
        return self.cli_json("calls", "--limit", "1000", *args)["data"]

    def ended_calls(self, ids) -> dict[str, dict]:
        """The rows of these calls that have ended, by id: a budgeted call's `in_flight` row (its
        reserved worst case, written while it runs) is not its final record."""
        wanted = set(ids)
        return {c["id"]: c for c in self.calls() if c["id"] in wanted and c["outcome"] != "in_flight"}

    def wait_for_call(self, request_id: str, timeout: float = 10) -> dict:
        """The call-log row with this id once the call has ended, polling while the writer's batch is
        pending (a budgeted call's `in_flight` row is replaced by its final row)."""
        assert request_id and request_id.startswith("req_"), f"bad request id {request_id!r}"
        deadline = time.monotonic() + timeout
        while True:
            if row := self.ended_calls([request_id]).get(request_id):
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"call {request_id} not in the call log after {timeout}s")
            time.sleep(0.05)

    # MARK: raw HTTP

    def http(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 30):
        """(status, headers, body bytes) of a raw request to the gateway."""
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()


def config_yaml(
    *,
    double_base: str,
    anthropic_key_file: Path,
    dead_port: int,
    flush_ms: int = 50,
    upstream_timeout: int = 2,
    max_body_bytes: int = 65536,
    extra_openai_models: tuple[str, ...] = (),
    extra_yaml: str = "",
    extra_providers: str = "",
    extra_prices: str = "",
) -> str:
    """The gateway config of the tests. `extra_openai_models` are more model patterns routed to the
    double's OpenAI side; `extra_providers` are more entries of `providers:` (YAML list items, placed
    first, so they route before the others); `extra_yaml` is appended as more top-level settings."""
    openai_models = "".join(f', "{m}"' for m in extra_openai_models)
    return f"""\
# Written by the end-to-end tests.
listen: 127.0.0.1:0
upstream_timeout: {upstream_timeout}
call_log_flush_interval: {flush_ms}
max_body_bytes: {max_body_bytes}
providers:
{extra_providers}  - name: openai
    kind: openai
    base_url: {double_base}/v1
    api_key: env:UPSTREAM_OPENAI_KEY
    models: ["gpt-*", "text-embedding-*", "cut-stream", "leaky-error", "slow", "slow-stream", "rate-limited", "broken"{openai_models}]
  - name: anthropic
    kind: anthropic
    base_url: {double_base}
    api_key: file:{anthropic_key_file}
    models: ["claude-*", "cut-stream", "leaky-error", "slow", "slow-stream", "rate-limited", "broken"]
  - name: gemini
    kind: gemini
    base_url: {double_base}/gemini
    api_key: env:UPSTREAM_GEMINI_KEY
    models: ["gemini-*", "cut-stream"]
  - name: dead-openai
    kind: openai
    base_url: http://127.0.0.1:{dead_port}/v1
    api_key: env:UPSTREAM_OPENAI_KEY
    models: ["dead-*"]
  - name: dead-anthropic
    kind: anthropic
    base_url: http://127.0.0.1:{dead_port}
    api_key: file:{anthropic_key_file}
    models: ["dead-*"]
prices:
  gpt-4o-mini: {{ input: 0.15, output: 0.60, cached_input: 0.075 }}
  cut-stream: {{ input: 1, output: 2, cached_input: 0.1, cache_write: 1.25 }}
  slow-stream: {{ input: 1, output: 2 }}
{extra_prices}{extra_yaml}"""


SDK_TIMEOUT = 30.0


def openai_client(gateway: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=SDK_TIMEOUT)


def anthropic_client(gateway: Gateway, key: str | None = None, **kwargs) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gateway.url, max_retries=0, timeout=SDK_TIMEOUT, **kwargs)
