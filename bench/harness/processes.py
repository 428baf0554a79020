"""Starting, watching and stopping the processes a run needs, and reading their CPU and memory from /proc."""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from harness.fixtures import LOOPBACK


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


def die_with_parent() -> None:
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
            preexec_fn=die_with_parent,
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
