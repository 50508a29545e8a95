"""Offline API docs and an OpenAPI that explains itself: Swagger UI and ReDoc from the package (no
external URL in `/`, `/docs`, `/redoc` or any asset they load), a bilingual description of every
event field, an example body for every event type, Chinese names of the codes, and the roles of
every operation."""

import re
from urllib.parse import urljoin, urlparse

import pytest

from shared.domain.events import DATA_MODELS, EVENT_MODELS, new_event_adapter
from shared.event_docs import EXAMPLES
from shared.policy_files import load_policies
from shared.settings import Settings

POLICY = load_policies(Settings().policy_dir, Settings().zone).current
CHANNEL_NAMES, LEVEL_NAMES = POLICY.channel_names, POLICY.level_names

# src=, href=, url(...) and the URL strings the docs pages pass to their scripts.
REFERENCES = re.compile(
    r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)["']?\s*\)|Url\s*:\s*["']([^"']+)["']"""
)


def _local(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about", "javascript"):
        return True
    return not parsed.netloc or parsed.hostname in ("127.0.0.1", "localhost", "ingest", "scoring", "reporting")


def _references(text: str) -> list[str]:
    return [next(g for g in match.groups() if g) for match in REFERENCES.finditer(text)]


@pytest.mark.parametrize("service", ["ingest", "scoring", "reporting"])
async def test_docs_pages_and_their_assets_name_no_external_host(kaohe, service):
    client = getattr(kaohe, service)
    pages = ["/docs", "/redoc"] + (["/"] if service == "reporting" else [])
    for page in pages:
        response = await client.get(page)
        assert response.status_code == 200, page
        base = str(response.url)
        assert "cdn" not in response.text and "googleapis" not in response.text
        for reference in _references(response.text):
            assert _local(reference), f"{page} refers to {reference}"
            asset = await client.get(urljoin(base, reference))
            assert asset.status_code == 200, (page, reference)
            if reference.endswith(".css") or "text/css" in asset.headers.get("content-type", ""):
                for inner in _references(asset.text):
                    assert _local(inner), f"{reference} refers to {inner}"
        # the script URLs Swagger UI and ReDoc are started with
        for value in re.findall(r"""(?:url|spec-url)\s*[:=]\s*['"]([^'"]+)['"]""", response.text):
            assert _local(value), f"{page}: {value}"
    assert "validatorUrl" in (await client.get("/docs")).text  # Swagger UI's badge would load from a host


def test_every_event_type_has_a_valid_example():
    for type_name in EVENT_MODELS:
        assert type_name in EXAMPLES, f"no example for {type_name}"
        new_event_adapter.validate_python(EXAMPLES[type_name])


async def test_openapi_describes_fields_codes_examples_and_roles(kaohe):
    ingest = (await kaohe.ingest.get("/openapi.json")).json()
    components = ingest["components"]["schemas"]
    for type_name, envelope in EVENT_MODELS.items():
        assert components[envelope.__name__]["examples"] == [EXAMPLES[type_name]]
        for field, prop in components[DATA_MODELS[type_name].__name__]["properties"].items():
            description = prop.get("description", "")
            assert "/ " in description and re.search(r"[\u4e00-\u9fff]", description), (type_name, field)
    examples = ingest["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == set(EVENT_MODELS)
    channel = components["ItemAdoptedData"]["properties"]["channel"]["description"]
    assert all(f"`{code}` {name}" in channel for code, name in CHANNEL_NAMES.items())
    level = components["ItemEndorsedData"]["properties"]["level"]["description"]
    assert all(f"`{code}` {name}" in level for code, name in LEVEL_NAMES.items())
    for service in ("ingest", "scoring", "reporting"):
        schema = (await getattr(kaohe, service).get("/openapi.json")).json()
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                assert "Roles 角色" in operation.get("description", ""), (service, method, path)
        assert "api.md" not in str(schema)


async def test_no_error_message_cites_a_file_outside_the_repository(kaohe):
    response = await kaohe.ingest.post(
        "/v1/events", json={"type": "no.such-type", "occurred_at": "2026-03-05T10:00:00+08:00", "data": {}}
    )
    assert response.status_code == 422 and response.json()["code"] == "unknown_event_type"
    assert "api.md" not in response.text


async def test_redoc_is_served_without_its_remote_logo(kaohe):
    script = await kaohe.reporting.get("/docs-assets/redoc.standalone.js")
    assert script.status_code == 200 and b"cdn.redoc.ly" not in script.content
    assert (await kaohe.reporting.get("/docs-assets/nothing.js")).status_code == 404
