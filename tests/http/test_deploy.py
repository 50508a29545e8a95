"""deploy/ checked as far as this machine can without a container engine or a cluster.

The manifests parse, name real ASGI apps, probe /readyz and /healthz, wire the Secret, and the
nginx config and the Ingress send every path of api.md to the same service.
"""

import importlib
import re
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
SERVICES = {
    "ingest": ("services.ingest.app:app", 8001),
    "scoring": ("services.scoring.app:app", 8002),
    "reporting": ("services.reporting.app:app", 8003),
}
# Every path family of api.md, and the service that owns it.
ROUTES = {
    "/v1/events": "ingest",
    "/v1/events/batch": "ingest",
    "/v1/streams/unit-U1": "ingest",
    "/v1/units/U1/ledger": "scoring",
    "/v1/officers/O-1.a/ledger": "scoring",
    "/v1/audit/deductions/0b7f3c7e-5d4a-4a53-9a50-7c1f1f2f8a11": "scoring",
    "/v1/projections/status": "scoring",
    "/v1/projections/rebuild": "scoring",
    "/v1/projections/rebuild/0b7f3c7e-5d4a-4a53-9a50-7c1f1f2f8a11": "scoring",
    "/v1/policies": "scoring",
    "/v1/policies/2026.1": "scoring",
    "/v1/what-if": "scoring",
    "/v1/rankings/units": "reporting",
    "/v1/rankings/officers": "reporting",
    "/v1/selection/2026": "reporting",
    "/v1/rewards": "reporting",
    "/v1/bulletins/2026-Q1": "reporting",
    "/": "reporting",
    "/v1/eventsourcing": "reporting",  # a prefix of a family name is not that family
}


def k8s_documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    return docs


def of_kind(kind: str) -> list[dict]:
    return [doc for _, doc in k8s_documents() if doc["kind"] == kind]


def test_every_k8s_document_has_api_version_kind_and_name():
    docs = k8s_documents()
    assert len(docs) >= 10
    for name, doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), name
        assert doc.get("metadata", {}).get("name"), name


def test_kustomization_lists_every_manifest_but_the_example_secret():
    [kustomization] = of_kind("Kustomization")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk


def test_each_service_has_a_deployment_with_probes_and_secret_and_a_service():
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    services = {s["metadata"]["name"]: s for s in of_kind("Service")}
    for name, (_app, port) in SERVICES.items():
        deployment = deployments[f"kaohe-{name}"]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == [name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {p["containerPort"] for p in container["ports"]} == {port}
        secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
        assert secrets["DATABASE_URL"]["name"] == "kaohe"
        assert secrets["KAOHE_BOOTSTRAP_ADMIN_KEY"]["name"] == "kaohe"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        service = services[f"kaohe-{name}"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert service["spec"]["ports"][0]["port"] == port


def test_migration_job_runs_migrate_with_the_secret():
    [job] = of_kind("Job")
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    assert container["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "kaohe", "key": "database-url"}


# --- routing: the Ingress and nginx.conf, each evaluated as its proxy would ----------------------


def ingress_route(path: str) -> str:
    """ingress-nginx with use-regex: every path is a case-insensitive regex anchored at the start,
    tried longest first; the backend service of the first that matches."""
    [ingress] = of_kind("Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/use-regex"] == "true"
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    for entry in sorted(paths, key=lambda p: len(p["path"]), reverse=True):
        if re.match(entry["path"], path, re.IGNORECASE):
            return entry["backend"]["service"]["name"].removeprefix("kaohe-")
    raise AssertionError(f"no ingress path for {path}")


def nginx_route(path: str) -> str:
    """nginx: an exact `=` location wins; else the first regex location that matches, in file order;
    else the longest prefix location. Returns the upstream of the chosen location."""
    config = (DEPLOY / "nginx.conf").read_text()
    locations = re.findall(r"location\s+(=|~\*?|\^~)?\s*(\S+)\s*\{([^}]*)\}", config)
    upstreams = set(re.findall(r"upstream\s+(\w+)", config))
    chosen = None
    for modifier, pattern, _body in locations:
        if modifier == "=" and path == pattern:
            chosen = _body
            break
    if chosen is None:
        for modifier, pattern, body in locations:
            if modifier.startswith("~") and re.search(pattern, path, re.IGNORECASE if modifier == "~*" else 0):
                chosen = body
                break
    if chosen is None:
        prefixes = [(p, b) for m, p, b in locations if m in ("", "^~") and path.startswith(p)]
        chosen = max(prefixes, key=lambda pb: len(pb[0]))[1]
    upstream = re.search(r"proxy_pass\s+http://(\w+)", chosen)
    assert upstream and upstream.group(1) in upstreams, chosen
    return upstream.group(1)


@pytest.mark.parametrize("path,service", ROUTES.items())
def test_ingress_routes_each_path_to_its_service(path, service):
    assert ingress_route(path) == service


@pytest.mark.parametrize("path,service", ROUTES.items())
def test_nginx_routes_each_path_to_its_service(path, service):
    assert nginx_route(path) == service


def test_nginx_upstreams_are_the_compose_services():
    config = (DEPLOY / "nginx.conf").read_text()
    for name, (_app, port) in SERVICES.items():
        assert re.search(rf"upstream {name}\s*\{{\s*server {name}:{port}\b", config)


# --- compose and the image -----------------------------------------------------------------------


def test_compose_runs_postgres_migrate_three_services_and_the_proxy():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, (_app, port) in SERVICES.items():
        service = services[name]
        assert service["command"] == [name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert f":{port}/readyz" in " ".join(service["healthcheck"]["test"])
        assert "DATABASE_URL" in service["environment"] and "KAOHE_BOOTSTRAP_ADMIN_KEY" in service["environment"]
        assert services["proxy"]["depends_on"][name]["condition"] == "service_healthy"
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]


def entrypoint_commands() -> dict[str, str]:
    script = (DEPLOY / "entrypoint.sh").read_text()
    return dict(re.findall(r"^\s*(\w[\w-]*)\)\s+(.*?)\s*;;", script, re.MULTILINE))


def test_dockerfile_uses_python_311_slim_and_the_entrypoint():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert "COPY deploy/entrypoint.sh /usr/local/bin/kaohe-entrypoint" in dockerfile
    assert 'ENTRYPOINT ["kaohe-entrypoint"]' in dockerfile
    for copied in re.findall(r"^COPY (\S+) \./", dockerfile, re.MULTILINE):
        assert (DEPLOY.parent / copied).exists(), copied
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, re.MULTILINE):
        assert f"!{copied.rstrip('/')}" in ignore.replace("/\n", "\n"), copied


@pytest.mark.parametrize("name", SERVICES)
def test_entrypoint_commands_serve_the_real_asgi_apps(name):
    command = entrypoint_commands()[name]
    app_path, port = SERVICES[name]
    assert command == f"serve {app_path} {port}"
    module_name, _, attribute = app_path.partition(":")
    app = getattr(importlib.import_module(module_name), attribute)
    assert callable(app) and hasattr(app, "router"), f"{app_path} is not an ASGI app"


def test_entrypoint_has_migrate_and_the_cli():
    commands = entrypoint_commands()
    assert commands["migrate"] == 'exec python -m shared.migrate "$@"'
    assert importlib.import_module("shared.migrate").main
    assert commands["kaohe"] == 'exec kaohe "$@"'


def test_entrypoint_is_valid_shell():
    subprocess.run(["sh", "-n", str(DEPLOY / "entrypoint.sh")], check=True)
