"""Start-up refuses a bad configuration, saying where and why, without echoing secrets."""

from __future__ import annotations

from perimeter_harness import clean_environment, run_cli

BASE = """\
listen: 127.0.0.1:0
providers:
  - name: openai
    kind: openai
    base_url: http://127.0.0.1:9/v1
    api_key: {api_key}
"""


def serve_expecting_failure(tmp_path, config: str, **env):
    path = tmp_path / "perimeter.yaml"
    path.write_text(config)
    environment = clean_environment(
        HOME=str(tmp_path), PERIMETER_DATABASE=f"sqlite:{tmp_path / 'p.db'}", PERIMETER_ADMIN_TOKEN="admin-token-e2e-123", **env
    )
    result = run_cli(["serve", "--config", str(path), "--listen", "127.0.0.1:0"], environment, tmp_path, timeout=20)
    assert result.returncode != 0, f"serve started with a bad config:\n{result.stdout}\n{result.stderr}"
    assert "Perimeter is listening" not in result.stdout
    return result.stdout + result.stderr


def test_literal_provider_key_is_refused(tmp_path):
    literal = "sk-literal0123456789abcdefghij"
    output = serve_expecting_failure(tmp_path, BASE.format(api_key=literal))
    assert "providers[0].api_key" in output
    assert "env:" in output  # says what to write instead
    assert literal not in output


def test_unknown_field_is_refused(tmp_path):
    config = BASE.format(api_key="env:UPSTREAM_KEY") + "upstream_timout: 5\n"
    output = serve_expecting_failure(tmp_path, config, UPSTREAM_KEY="sk-x-0123456789")
    assert "upstream_timout" in output
    assert "unknown field" in output
    assert "perimeter.yaml" in output


def test_missing_provider_secret_is_refused(tmp_path):
    output = serve_expecting_failure(tmp_path, BASE.format(api_key="env:NOT_SET_ANYWHERE"))
    assert "providers[0].api_key" in output
    assert "NOT_SET_ANYWHERE" in output
