#!/usr/bin/env python3
"""How long `perimeter scan --sweep` takes over a home directory of 100,000 small files.

    python3 bench/sweep.py [--perimeter-bin PATH] [--files 100000] [--runs 3] [--out FILE.json] [--keep]

Fabricates a home directory in a temp dir: projects of source files (200 B to 4 kB of code-like text,
one in 100 a small binary), dotfiles and tool settings, and the bulky trees a sweep skips
(node_modules, a virtual environment, ~/.cache) holding about a third of the files. Ten keys are
planted where developers leave them (ignored .env files, shell history, a notebook, a tool config),
and one decoy in node_modules. Then times `perimeter scan --sweep HOME --json` (no gateway) `--runs`
times, checks each run found exactly the ten planted keys, and writes the times with the sweep's own
counts. The page cache is warm (the files were just written): this measures the sweep, not the disk.
Needs only the Python standard library; a release build (`swift build -c release`) by default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORDS = ("let var func return if else for while import struct class self value count index name path "
         "result error data bytes line file open close read write print config option default true false nil "
         "async await try catch throw guard switch case break continue map filter reduce append remove").split()
ALPHANUMERIC = string.ascii_letters + string.digits


def planted_keys(rng: random.Random) -> list[tuple[str, str]]:
    """(relative path, file text) for the ten planted keys, each built at run time."""
    def text(n: int, alphabet: str = ALPHANUMERIC) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    def openai() -> str:
        return "sk-" + "proj-" + text(40) + "T3Blbk" + "FJ" + text(40)

    def groq() -> str:
        return "gsk" + "_" + text(52)

    def anthropic() -> str:
        return "sk-" + "ant-api03-" + text(93, ALPHANUMERIC + "-_") + "AA"

    notebook = {"cells": [{"cell_type": "code", "source": [f"client = Anthropic(api_key=\"{anthropic()}\")\n"]}]}
    return [
        (".zsh_history", f": 1764000000:0;export OPENAI_API_KEY={openai()}\n"),
        (".bash_history", f"export GROQ_API_KEY={groq()}\n"),
        (".config/openai/config.json", json.dumps({"api_key": openai()})),
        (".continue/config.json", json.dumps({"models": [{"apiKey": anthropic()}]})),
        ("notes/experiment.ipynb", json.dumps(notebook)),
        ("projects/p3/.env", f"OPENAI_API_KEY={openai()}\n"),
        ("projects/p7/.env.local", f"GROQ_API_KEY={groq()}\n"),
        ("projects/p11/scripts/try.py", f"KEY = '{groq()}'\n"),
        ("projects/p19/.env", f"ANTHROPIC_API_KEY={anthropic()}\n"),
        (".aider.conf.yml", f"openai-api-key: {openai()}\n"),
    ]


def fabricate(home: Path, files: int, rng: random.Random) -> dict[str, int]:
    """Writes `files` files under `home`; returns how many went where."""
    counts = {"read": 0, "skipped_trees": 0, "binary": 0}

    def write(relative: str, data: bytes, kind: str = "read") -> None:
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        counts[kind] += 1

    def code() -> bytes:
        lines = []
        for _ in range(rng.randint(5, 80)):
            lines.append(" " * rng.choice((0, 4, 8)) + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))))
        return ("\n".join(lines) + "\n").encode()

    for relative, text in planted_keys(rng):
        write(relative, text.encode())
    write("projects/p3/node_modules/leftpad/.env", ("GROQ_API_KEY=gsk" + "_" + "x1Y2" * 13 + "\n").encode(), "skipped_trees")
    for name in (".bashrc", ".zshrc", ".profile", ".netrc", ".npmrc", ".gitconfig", ".config/fish/config.fish"):
        write(name, code())
    skipped_share = files // 3
    while counts["skipped_trees"] < skipped_share:
        n = counts["skipped_trees"]
        tree = ("projects/p%d/node_modules/pkg%d" % (n % 40, n // 50 % 300), ".venv/lib/python3.12/site-packages/m%d" % (n % 200),
                ".cache/pip/http/%02x" % (n % 256))[n % 3]
        write(f"{tree}/f{n}.js", code(), "skipped_trees")
    while sum(counts.values()) < files:
        n = counts["read"] + counts["binary"]
        directory = "projects/p%d/src/module%d" % (n % 40, n // 40 % 50)
        if n % 100 == 99:
            write(f"{directory}/image{n}.png", b"\x89PNG\r\n\x1a\n\x00" + rng.randbytes(rng.randint(2000, 20000)), "binary")
        else:
            write(f"{directory}/file{n}.{rng.choice(('py', 'swift', 'ts', 'md', 'json'))}", code())
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--perimeter-bin", default=os.environ.get("PERIMETER_BIN") or str(REPO / ".build" / "release" / "perimeter"))
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "latest-sweep.json"))
    parser.add_argument("--keep", action="store_true", help="keep the fabricated home directory")
    args = parser.parse_args()
    if not Path(args.perimeter_bin).exists():
        print(f"no binary at {args.perimeter_bin}: swift build -c release --product perimeter", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="perimeter-sweep-bench-"))
    home = workdir / "home"
    try:
        started = time.monotonic()
        counts = fabricate(home, args.files, random.Random(20261206))
        print(f"fabricated {sum(counts.values()):,} files in {time.monotonic() - started:.1f} s: {counts}", file=sys.stderr)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERIMETER_", "OPENAI_", "ANTHROPIC_"))}
        env["HOME"] = str(home)
        runs = []
        for run in range(args.runs):
            started = time.monotonic()
            done = subprocess.run([args.perimeter_bin, "scan", "--sweep", str(home), "--json"], env=env, capture_output=True,
                                  text=True, timeout=3600)
            seconds = time.monotonic() - started
            report = json.loads(done.stdout)
            found = sorted(f["path"] for f in report["findings"])
            expected = sorted("~/" + path for path, _ in planted_keys(random.Random(20261206)))
            if done.returncode != 1 or found != expected:
                print(f"run {run + 1}: exit {done.returncode}, found {found}, expected {expected}\n{done.stderr}", file=sys.stderr)
                return 1
            runs.append({"seconds": round(seconds, 3), "summary": report["summary"]})
            print(f"run {run + 1}: {seconds:.2f} s, {report['summary']}", file=sys.stderr)
        result = {
            "benchmark": "perimeter scan --sweep",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"cpus": os.cpu_count(), "system": platform.platform()},
            "binary": os.path.relpath(args.perimeter_bin, REPO) if Path(args.perimeter_bin).is_relative_to(REPO) else args.perimeter_bin,
            "files": counts,
            "runs": runs,
            "median_seconds": statistics.median(r["seconds"] for r in runs),
        }
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"median {result['median_seconds']:.2f} s over {args.runs} runs; {args.out}")
        return 0
    finally:
        if args.keep:
            print(f"kept {home}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
