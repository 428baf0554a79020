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
    settings = {"HOME": str(tmp_path), "PERIMETER_DATABASE": f"sqlite:{tmp_path / 'p.db'}", "PERIMETER_ADMIN_TOKEN": "admin-token-e2e-123"}
    settings.update(env)
    environment = clean_environment(**settings)
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


def test_a_password_in_the_database_address_is_refused_and_never_printed(tmp_path):
    output = serve_expecting_failure(
        tmp_path, BASE.format(api_key="env:UPSTREAM_KEY"), UPSTREAM_KEY="sk-x-0123456789",
        PERIMETER_DATABASE="postgres://app:hunter2secret@127.0.0.1:1/perimeter")
    assert "database_password" in output and "hunter2secret" not in output


def test_an_unreachable_postgres_is_a_clear_error_not_a_hang(tmp_path):
    output = serve_expecting_failure(
        tmp_path, BASE.format(api_key="env:UPSTREAM_KEY"), UPSTREAM_KEY="sk-x-0123456789",
        PERIMETER_DATABASE="postgres://app@127.0.0.1:1/perimeter?sslmode=disable")
    assert "cannot open PostgreSQL at postgres://app@127.0.0.1:1/perimeter" in output
