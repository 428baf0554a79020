"""deploy/ (docker-compose and Kubernetes manifests) checked against the code: the configuration they
mount loads in the real gateway, every environment variable they set is one the gateway reads, the
ports agree from the listen address to the probes, and every probe and scrape path is a route the
running gateway answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from perimeter_harness import clean_environment, run_cli

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def load_all(path: Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def variables_the_code_reads() -> set[str]:
    """Environment variables named in the gateway's sources (ProcessInfo lookups and env: references)."""
    names: set[str] = set()
    for source in (REPO / "Sources").rglob("*.swift"):
        names |= set(re.findall(r'"((?:PERIMETER|PG|VAULT|AWS)_[A-Z0-9_]+|PGPASSWORD)"', source.read_text()))
    return names


def referenced_variables(config_text: str) -> set[str]:
    """The env:NAME references of a configuration."""
    return set(re.findall(r"env:([A-Z0-9_]+)", config_text))


def listen_port(config_text: str) -> int:
    return int(yaml.safe_load(config_text)["listen"].rsplit(":", 1)[1])


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())


def deployment() -> tuple[dict, dict]:
    documents = load_all(DEPLOY / "kubernetes" / "deployment.yaml")
    return next(d for d in documents if d["kind"] == "Deployment"), next(d for d in documents if d["kind"] == "Service")


def test_the_deployed_configuration_loads_in_the_gateway(tmp_path):
    text = (DEPLOY / "perimeter.yaml").read_text()
    env = clean_environment(HOME=str(tmp_path), PERIMETER_DB_PASSWORD="unused")
    checked = run_cli(
        ["db", "migrate", "--config", str(DEPLOY / "perimeter.yaml"), "--database", f"sqlite:{tmp_path / 'check.db'}", "--dry-run", "--json"],
        env, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["pending"]
    # Kubernetes mounts the same configuration.
    configmap = load_all(DEPLOY / "kubernetes" / "configmap.yaml")[0]
    assert yaml.safe_load(configmap["data"]["perimeter.yaml"]) == yaml.safe_load(text)


def test_every_variable_set_is_one_the_gateway_reads_and_every_one_it_needs_is_set():
    code = variables_the_code_reads()
    config = (DEPLOY / "perimeter.yaml").read_text()
    needed = referenced_variables(config) | {"PERIMETER_DATABASE", "PERIMETER_ADMIN_TOKEN", "PERIMETER_MASTER_KEY"}
    readable = code | referenced_variables(config)

    gateways = {name: service for name, service in compose()["services"].items() if name.startswith("gateway")}
    assert len(gateways) == 2
    for name, service in gateways.items():
        variables = set(service["environment"])
        assert variables <= readable, (name, variables - readable)
        assert needed <= variables, (name, needed - variables)
        assert service["environment"]["PERIMETER_CONFIG"] == service["volumes"][0].split(":")[1]
        assert service["environment"]["PERIMETER_DATABASE"].startswith("postgres://")
        assert ":" not in service["environment"]["PERIMETER_DATABASE"].split("//", 1)[1].split("@", 1)[0]  # no password in the URL

    deploy, _ = deployment()
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    variables = {item["name"] for item in container["env"]}
    assert variables <= readable, variables - readable
    assert needed <= variables, needed - variables
    secret_keys = set(load_all(DEPLOY / "kubernetes" / "secret.example.yaml")[0]["stringData"])
    from_secret = {item["name"] for item in container["env"] if "valueFrom" in item}
    assert from_secret == secret_keys == {"PERIMETER_DB_PASSWORD", "PERIMETER_ADMIN_TOKEN", "PERIMETER_MASTER_KEY"}
    assert deploy["spec"]["replicas"] == 2


def test_ports_agree_from_the_listen_address_to_the_probes_and_the_scrape():
    port = listen_port((DEPLOY / "perimeter.yaml").read_text())
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"EXPOSE {port}" in dockerfile and f"PERIMETER_LISTEN=0.0.0.0:{port}" in dockerfile
    for name, service in compose()["services"].items():
        if name.startswith("gateway"):
            assert [mapping.split(":")[1] for mapping in service["ports"]] == [str(port)]
            assert f":{port}/" in " ".join(service["healthcheck"]["test"])
    targets = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == [f"gateway-a:{port}", f"gateway-b:{port}"]

    deploy, service = deployment()
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["readinessProbe"]["httpGet"]["port"] == container["livenessProbe"]["httpGet"]["port"] == "http"
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert deploy["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)


def test_every_probe_and_scrape_path_is_a_route_of_the_running_gateway(gateway):
    deploy, _ = deployment()
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    paths = {
        container["readinessProbe"]["httpGet"]["path"]: {200, 503},
        container["livenessProbe"]["httpGet"]["path"]: {200},
        deploy["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]: {200},
        yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"][0]["metrics_path"]: {200},
    }
    healthcheck = compose()["services"]["gateway-a"]["healthcheck"]["test"][-1]
    paths["/" + healthcheck.split("/", 3)[3]] = {200, 503}
    assert set(paths) == {"/readyz", "/healthz", "/metrics"}
    for path, statuses in paths.items():
        status, _, _ = gateway.http("GET", path)
        assert status in statuses, (path, status)
