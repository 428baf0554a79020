"""`perimeter scan --sweep` end to end: a fabricated home directory with keys where developers
leave them (an ignored .env inside a repository, shell history, a notebook, an assistant's config)
and a decoy in node_modules; the gateway classifies what it recognises (its virtual key, its own
provider credential), `--report --owner alice` sends the findings, and the inventory answers which
keys alice has, on which machine."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import random
import socket
import string
import subprocess

from perimeter_harness import clean_environment, openai_client, perimeter_bin, run_cli
from test_scan import fake_groq_key, git, make_repo

ALPHANUMERIC = string.ascii_letters + string.digits


def fake_openai_key(seed: int) -> str:
    rng = random.Random(seed)
    return "sk-" + "proj-" + "".join(rng.choice(ALPHANUMERIC) for _ in range(40)) + "T3Blbk" + "FJ" + "".join(
        rng.choice(ALPHANUMERIC) for _ in range(40))


def fake_anthropic_key(seed: int) -> str:
    rng = random.Random(seed)
    return "sk-" + "ant-api03-" + "".join(rng.choice(ALPHANUMERIC + "-_") for _ in range(93)) + "AA"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fabricate_home(home, virtual_key: str, held_key: str) -> dict[str, str]:
    """Plants one key per place; returns the planted keys by name."""
    keys = {
        "held": held_key, "virtual": virtual_key, "env": fake_groq_key(41), "notebook": fake_anthropic_key(42),
        "tool": fake_openai_key(43), "decoy": fake_groq_key(44),
    }
    repo = make_repo(home / "src" / "app")
    (repo / ".gitignore").write_text(".env\nnode_modules/\n")
    (repo / "app.py").write_text("import os\nclient_key = os.environ['GROQ_API_KEY']\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "app")
    (repo / ".env").write_text(f"GROQ_API_KEY={keys['env']}\nPERIMETER_API_KEY={keys['virtual']}\n")
    assert git(repo, "check-ignore", ".env") == ".env"  # what `perimeter scan` of the repository never reads
    (home / ".zsh_history").write_text(f": 1764000000:0;ls\n: 1764000001:0;export OPENAI_API_KEY={keys['held']}\n")
    (home / ".zshrc").write_text("export PATH=$HOME/bin:$PATH\n")
    notebook = {"cells": [{"cell_type": "code", "source": ["import anthropic\n", f"client = anthropic.Anthropic(api_key=\"{keys['notebook']}\")\n"],
                           "outputs": []}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}
    (home / "notes").mkdir()
    (home / "notes" / "analysis.ipynb").write_text(json.dumps(notebook, indent=1))
    (home / ".continue").mkdir()
    (home / ".continue" / "config.json").write_text(json.dumps({"models": [{"provider": "openai", "apiKey": keys["tool"]}]}))
    decoy = repo / "node_modules" / "leftpad"
    decoy.mkdir(parents=True)
    (decoy / "index.js").write_text(f"module.exports = {{ key: '{keys['decoy']}' }}\n")
    (decoy / ".env").write_text(f"GROQ_API_KEY={keys['decoy']}\n")
    return keys


def test_a_sweep_finds_classifies_and_reports_each_key_per_owner_and_machine(gateway_factory, tmp_path):
    held = fake_openai_key(40)
    gateway = gateway_factory("sweep", extra_env={"UPSTREAM_OPENAI_KEY": held})
    virtual = gateway.create_key("alice-notebook", "dev", owner="alice")
    openai_client(gateway, virtual["key"]).models.list()  # the gateway has fetched env:UPSTREAM_OPENAI_KEY by now
    home = tmp_path / "home-alice"
    home.mkdir()
    keys = fabricate_home(home, virtual["key"], held)
    env = {"HOME": str(home)}

    result = gateway.cli("scan", "--sweep", "--json", env=env, check=False)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    found = {(f["path"], f["rule"], f["classification"]) for f in report["findings"]}
    assert found == {
        ("~/.zsh_history", "openai-api-key", "provider_key_held_by_gateway"),
        ("~/src/app/.env", "groq-api-key", "provider_key"),
        ("~/src/app/.env", "perimeter-virtual-key", "managed"),
        ("~/notes/analysis.ipynb", "anthropic-api-key", "provider_key"),
        ("~/.continue/config.json", "openai-api-key", "provider_key"),
    }, found
    by_rule_path = {(f["path"], f["rule"]): f for f in report["findings"]}
    assert by_rule_path[("~/src/app/.env", "perimeter-virtual-key")]["managed_key_id"] == virtual["id"]
    assert by_rule_path[("~/.zsh_history", "openai-api-key")]["credential_reference"] == "env:UPSTREAM_OPENAI_KEY"
    assert sha256(keys["decoy"]) not in {f["sha256"] for f in report["findings"]}
    assert report["classified_by"] == "gateway" and report["summary"]["directories_skipped"] >= 2  # .git, node_modules
    assert report["summary"]["files_read"] >= 6
    printed = result.stdout + result.stderr
    assert not any(key in printed for key in keys.values())

    # Without a gateway, Perimeter's own keys are still managed by their format, and the scan says so.
    alone = run_cli(["scan", "--sweep", str(home)], clean_environment(HOME=str(tmp_path)), tmp_path)
    assert alone.returncode == 1
    assert "classified managed by their format" in alone.stdout and "held_by_gateway" not in alone.stdout
    assert "Swept " in alone.stdout and not any(key in alone.stdout + alone.stderr for key in keys.values())

    refused = gateway.cli("scan", "--sweep", "--report", env=env, check=False)
    assert refused.returncode == 2 and "--owner" in refused.stderr
    reported = gateway.cli("scan", "--sweep", "--report", "--owner", "alice", env=env, check=False)
    assert reported.returncode == 1 and "Reported 5 finding(s) to the gateway." in reported.stderr, reported.stderr

    hostname = socket.gethostname()
    inventory = gateway.cli_json("inventory")
    mine = [f for f in inventory["findings"] if f["owner"] == "alice"]
    assert {(f["path"], f["hostname"], f["classification"]) for f in mine} == {
        (path, hostname, classification) for path, _, classification in found}
    assert not any(key in json.dumps(inventory) for key in keys.values())

    owners = gateway.cli_json("inventory", "--by", "owner")["owners"]
    [alice] = [o for o in owners if o["owner"] == "alice"]
    assert alice["hostnames"] == [hostname] and alice["virtual_keys"] == [virtual["id"]]
    assert alice["classifications"] == {"provider_key_held_by_gateway": 1, "provider_key": 3, "managed": 1}
    assert alice["keys"][0]["classification"] == "provider_key_held_by_gateway"  # most serious first
    assert alice["keys"][0]["locations"][0]["path"] == "~/.zsh_history"
    assert {k["managed_key_id"] for k in alice["keys"] if "managed_key_id" in k} == {virtual["id"]}

    table = gateway.cli("inventory", "--by", "owner").stdout
    assert table.splitlines()[0].split() == ["OWNER", "KEY", "RULE", "CLASS", "FOUND", "AT"]
    assert f"{hostname}:~/.zsh_history:2" in table and virtual["id"] in table
    assert f"alice ({hostname}): 5 key(s) found: 1 provider_key_held_by_gateway, 3 provider_key, 1 managed" in table
    assert f"(alice@{hostname}, provider_key_held_by_gateway)" in gateway.cli("inventory").stdout

    again = gateway.cli("scan", "--sweep", "--report", "--owner", "alice", env=env, check=False)
    assert again.returncode == 1 and len(gateway.cli_json("inventory")["findings"]) == len(inventory["findings"])


def test_the_progress_line_shows_on_a_terminal_and_is_erased_but_never_with_json(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".bashrc").write_text("alias ll='ls -l'\n")
    env = clean_environment(HOME=str(tmp_path / "home"))

    def stderr_on_a_terminal(*args: str) -> tuple[int, bytes, str]:
        controller, terminal = pty.openpty()
        try:
            process = subprocess.run([perimeter_bin(), "scan", "--sweep", *args], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                                     stderr=terminal, timeout=60)
            os.close(terminal)
            terminal = -1
            chunks = []
            while True:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return process.returncode, b"".join(chunks), process.stdout.decode()
        finally:
            if terminal >= 0:
                os.close(terminal)
            os.close(controller)

    code, shown, out = stderr_on_a_terminal()
    assert code == 0 and b"Sweeping: " in shown and shown.endswith(b"\r\x1b[K"), shown
    assert "No leaked keys found." in out and "Sweeping" not in out
    code, shown, out = stderr_on_a_terminal("--json")
    assert code == 0 and b"Sweeping" not in shown and json.loads(out)["findings"] == []
