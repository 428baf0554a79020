#!/usr/bin/env python3
"""Times `perimeter scan` against gitleaks, Kingfisher and detect-secrets on the same repositories.

    run.py --perimeter-bin PATH --tools-bin DIR [--repo PATH ...] [--synthetic-commits N] [--out FILE.json]

Each tool scans each repository's whole git history (detect-secrets reads files only: it has no
history mode, so it scans the checked-out tree). Runs each tool twice and keeps the faster time, so
the page cache is warm for all alike. Network features are off: no update checks, no validation.
Prints a Markdown table and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    best = None
    result = None
    for _ in range(2):
        start = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
        elapsed = time.monotonic() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def count_json(text: str, key: str | None = None) -> int:
    data = json.loads(text or "null")
    if key:
        data = data.get(key, []) if isinstance(data, dict) else []
    return len(data or [])


def tools(perimeter: str, bin_dir: Path, work: Path):
    report = work / "report.json"

    def perimeter_cmd(repo):
        return [perimeter, "scan", str(repo), "--history", "--json", "--exit-code", "0"]

    def perimeter_count(result):
        return count_json(result.stdout, "findings")

    def gitleaks_cmd(repo):
        return [str(bin_dir / "gitleaks"), "git", str(repo), "--no-banner", "--exit-code", "0", "--report-format", "json",
                "--report-path", str(report), "--log-level", "error"]

    def gitleaks_count(_):
        return count_json(report.read_text())

    def kingfisher_cmd(repo):
        return [str(bin_dir / "kingfisher"), "scan", str(repo), "--git-history", "full", "--no-validate", "--no-update-check",
                "--format", "jsonl", "--output", str(report), "--quiet"]

    def kingfisher_count(_):
        lines = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
        return sum(1 for line in lines if "rule" in line or "finding" in line)

    def detect_secrets_cmd(repo):
        return [str(bin_dir / "detect-secrets"), "-C", str(repo), "scan", "--all-files"]

    def detect_secrets_count(result):
        return sum(len(v) for v in json.loads(result.stdout)["results"].values())

    return [
        ("perimeter scan", "history + tree", perimeter_cmd, perimeter_count),
        ("gitleaks", "history", gitleaks_cmd, gitleaks_count),
        ("kingfisher", "history", kingfisher_cmd, kingfisher_count),
        ("detect-secrets", "tree only", detect_secrets_cmd, detect_secrets_count),
    ]


def describe(repo: Path) -> dict:
    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True).stdout.strip()

    sizes = [line.split() for line in git("cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize)").splitlines()]
    blobs = [int(size) for kind, size in sizes if kind == "blob"]
    return {
        "repo": str(repo),
        "commits": int(git("rev-list", "--all", "--count") or 0),
        "blobs": len(blobs),
        "blob_mb": round(sum(blobs) / 1e6, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--perimeter-bin", required=True)
    parser.add_argument("--tools-bin", required=True, type=Path)
    parser.add_argument("--repo", action="append", type=Path, default=[])
    parser.add_argument("--synthetic-commits", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    env = dict(os.environ, DO_NOT_TRACK="1", KINGFISHER_NO_UPDATE_CHECK="1", GITLEAKS_NO_UPDATE_CHECK="1")
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        repos = list(args.repo)
        if args.synthetic_commits:
            synthetic = work / f"synthetic-{args.synthetic_commits}"
            made = subprocess.run([sys.executable, str(HERE / "make_repo.py"), str(synthetic), "--commits",
                                   str(args.synthetic_commits)], capture_output=True, text=True, check=True)
            planted = json.loads(made.stdout)["planted"]
            repos.append(synthetic)
            print(f"synthetic repository: {len(planted)} planted keys", file=sys.stderr)
        for repo in repos:
            info = describe(repo)
            for name, scope, command, count in tools(args.perimeter_bin, args.tools_bin, work):
                seconds, result = timed(command(repo), env)
                try:
                    findings = count(result)
                except Exception as error:  # a tool that failed is reported, not hidden
                    findings = f"error: {error}; exit {result.returncode}: {result.stderr[-300:]}"
                rows.append({**info, "tool": name, "scope": scope, "seconds": round(seconds, 2), "findings": findings})
                print(f"{Path(info['repo']).name:24} {name:15} {seconds:8.2f} s  {findings}", file=sys.stderr)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"Machine: {machine}\n")
    print("| repository | commits | blobs (MB) | tool | scope | seconds | findings |")
    print("|---|---:|---:|---|---|---:|---:|")
    for row in rows:
        print(f"| {Path(row['repo']).name} | {row['commits']} | {row['blobs']} ({row['blob_mb']}) | {row['tool']} | {row['scope']} | {row['seconds']} | {row['findings']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
