#!/usr/bin/env python3
"""Writes a synthetic git repository for the scanner benchmark: N commits of code-like churn over a
few hundred files, with K planted keys (half of them deleted again later), through git fast-import.

    make_repo.py OUT_DIR [--commits N] [--files F] [--keys K] [--seed S]

Prints one JSON line: the repository, its commits, and the planted keys' rules and commits (never
the key text). Keys are built from pieces at run time, random but of the real formats.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import subprocess
import sys
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
WORDS = "client request response handler config value index result buffer stream token cache user model".split()


def planted_key(rng: random.Random, kind: int) -> tuple[str, str]:
    def pick(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    kinds = [
        ("openai-api-key", lambda: "sk-" + "proj-" + pick(URLSAFE, 40) + "T3Blbk" + "FJ" + pick(URLSAFE, 40)),
        ("anthropic-api-key", lambda: "sk-" + "ant-api03-" + pick(URLSAFE, 93) + "AA"),
        ("google-ai-api-key", lambda: "AI" + "za" + pick(URLSAFE, 35)),
        ("groq-api-key", lambda: "gsk" + "_" + pick(ALNUM, 52)),
        ("huggingface-token", lambda: "hf" + "_" + pick(string.ascii_letters, 34)),
        ("aws-access-key-id", lambda: "AK" + "IA" + pick(string.ascii_uppercase + "234567", 16)),
    ]
    rule, make = kinds[kind % len(kinds)]
    return rule, make()


def code_line(rng: random.Random) -> str:
    a, b, c = rng.sample(WORDS, 3)
    return f"    let {a}{rng.randint(0, 999)} = {b}.{c}({rng.randint(0, 99999)}, \"{''.join(rng.choice(ALNUM) for _ in range(12))}\")\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--keys", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=False)
    subprocess.run(["git", "init", "-q", "-b", "main", str(args.out)], check=True)

    files = {f"src/module{i // 20}/file{i}.swift": [code_line(rng) for _ in range(rng.randint(20, 120))] for i in range(args.files)}
    plant_at = sorted(rng.sample(range(1, args.commits), args.keys))
    planted = []
    stream = []
    mark = 0
    for number in range(args.commits):
        changed = rng.sample(sorted(files), 3) if number else sorted(files)
        for path in changed:
            lines = files[path]
            for _ in range(rng.randint(1, 4)):
                lines.insert(rng.randrange(len(lines) + 1), code_line(rng))
        removal = None
        if plant_at and number == plant_at[0]:
            plant_at.pop(0)
            rule, key = planted_key(rng, len(planted))
            path = changed[0]
            files[path].insert(rng.randrange(len(files[path]) + 1), f'    let apiKey = "{key}"\n')
            planted.append({"rule": rule, "path": path, "commit_number": number})
            if len(planted) % 2 == 0:
                removal = (path, key)
        stream.append(commit(number, changed, files, mark))
        mark += 1
        if removal:
            path, key = removal
            files[path] = [line for line in files[path] if key not in line]
            stream.append(commit(number, [path], files, mark, message="remove a key"))
            mark += 1
    data = "".join(stream).encode()
    subprocess.run(["git", "-C", str(args.out), "fast-import", "--quiet"], input=data, check=True)
    subprocess.run(["git", "-C", str(args.out), "checkout", "-q", "-f", "main"], check=True)
    print(json.dumps({"repo": str(args.out), "commits": mark, "planted": planted}))
    return 0


def commit(number: int, changed: list[str], files: dict[str, list[str]], mark: int, message: str | None = None) -> str:
    text = message or f"change {number}"
    parts = [
        "commit refs/heads/main\n",
        f"mark :{mark + 1}\n",
        f"author Bench Author {number % 7} <a{number % 7}@example.org> {1700000000 + mark * 60} +0000\n",
        f"committer Bench <bench@example.org> {1700000000 + mark * 60} +0000\n",
        f"data {len(text.encode())}\n{text}\n",
    ]
    if mark:
        parts.append(f"from :{mark}\n")
    for path in changed:
        body = "".join(files[path]).encode()
        parts.append(f"M 100644 inline {path}\ndata {len(body)}\n")
        parts.append(body.decode() + "\n")
    return "".join(parts)


if __name__ == "__main__":
    sys.exit(main())
