"""The admin API's OpenAPI document is its contract: schemathesis drives every operation from
/admin/v1/openapi.json (schema-valid and schema-violating requests, stateful sequences over the links
it infers, undeclared methods) with every check, once as an admin and once as a viewer, with a fixed
seed so a run is repeatable. Zero failures means: no 5xx, no crash, every answer matches its declared
schema and status, valid requests are accepted and invalid ones refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SEED = int(os.environ.get("PERIMETER_SCHEMATHESIS_SEED", "20261205"))  # another seed explores further
# One check is left out, on purpose: DELETE /keys/{id} revokes a key and keeps its record (the
# document says so), so GET /keys/{id} still answers 200 with status "revoked" after it.
EXCLUDED_CHECKS = ["use_after_free"]
# GET /calls/stream is left out: an event stream never ends, so schemathesis would wait on its body
# until its timeout. test_call_stream.py tests it (events, filters, roles, shutdown) instead.
EXCLUDED_PATHS = ["/calls/stream"]
# GET /spend/series refuses a window of more than 1,440 buckets, a limit on since and until together
# that a schema of each parameter alone cannot state: schemathesis's random since and until often
# exceed it, and the 400 is right. Every other check still runs on it. Options given on the command
# line win over the config file's per-operation ones, so the run does not pass `--checks all`: every
# check is on by default.
CONFIG = """
[[operations]]
include-path = "/spend/series"
checks.positive_data_acceptance.enabled = false
"""


def schemathesis(gateway, token: str, examples: int, workdir: Path) -> subprocess.CompletedProcess:
    binary = Path(sys.executable).parent / "schemathesis"
    report = workdir / "schemathesis.txt"
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG)
    args = [
        str(binary), "--config-file", str(config), "run", f"{gateway.url}/admin/v1/openapi.json", "--url", f"{gateway.url}/admin/v1",
        "-H", f"Authorization: Bearer {token}",
        *[arg for check in EXCLUDED_CHECKS for arg in ("--exclude-checks", check)],
        *[arg for path in EXCLUDED_PATHS for arg in ("--exclude-path", path)],
        "--seed", str(SEED), "--max-examples", str(examples), "--no-color",
    ]
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", SCHEMATHESIS_HOOKS="")
    result = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env, cwd=str(workdir))
    report.write_text(result.stdout + result.stderr)
    return result


def summary(result: subprocess.CompletedProcess) -> str:
    text = result.stdout + result.stderr
    start = text.find("= FAILURES =")
    return text[start - 40:][:12000] if start >= 0 else text[-6000:]


@pytest.mark.parametrize("role,examples", [("admin", 60), ("viewer", 25)])
def test_schemathesis_finds_nothing(gateway_factory, tmp_path, role, examples):
    gw = gateway_factory(f"contract-{role}")
    token = gw.admin_token
    if role == "viewer":
        token = gw.cli_json("admins", "create", "--name", "contract-viewer", "--role", "viewer")["token"]
    result = schemathesis(gw, token, examples, tmp_path)
    assert result.returncode == 0, summary(result)
    assert gw.running, "the gateway exited under schemathesis:\n" + gw.stderr_text()[-3000:]
    # Every operation was reached, not refused wholesale.
    assert "Tested: 30" in result.stdout, result.stdout[-3000:]
