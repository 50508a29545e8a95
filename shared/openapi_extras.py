"""Additions to a service's generated OpenAPI schema that FastAPI cannot express from the routes:
OpenAPI links between operations (so a client, or schemathesis's stateful phase, can follow an
append to its stream, a rebuild to its job, a policy to a what-if) and examples of valid requests.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

Schema = dict[str, Any]


def extend_openapi(app: FastAPI, patch: Callable[[Schema, FastAPI], None]) -> None:
    """Apply `patch` to the schema once, after FastAPI (and any earlier extension) generated it."""
    generate = app.openapi
    done: dict[str, int] = {}

    def openapi() -> Schema:
        schema = generate()
        if done.get("schema") != id(schema):
            patch(schema, app)
            done["schema"] = id(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def operation(schema: Schema, method: str, path: str) -> Schema:
    return schema["paths"][path][method]


def link(
    schema: Schema,
    source: tuple[str, str, str],
    name: str,
    target: tuple[str, str],
    *,
    parameters: dict[str, str] | None = None,
    request_body: Any = None,
    description: str = "",
) -> None:
    """Link response `source` = (method, path, status) to operation `target` = (method, path)."""
    method, path, status = source
    response = operation(schema, method, path)["responses"].setdefault(status, {"description": "Success"})
    spec: dict[str, Any] = {"operationId": operation(schema, *target)["operationId"]}
    if parameters:
        spec["parameters"] = parameters
    if request_body is not None:
        spec["requestBody"] = request_body
    if description:
        spec["description"] = description
    response.setdefault("links", {})[name] = spec


def body_example(schema: Schema, method: str, path: str, example: Any) -> None:
    """A valid request body, for clients and for the fuzzer's examples phase."""
    content = operation(schema, method, path)["requestBody"]["content"]["application/json"]
    content["example"] = example


def parameter_schema(schema: Schema, method: str, path: str, name: str, **extra: Any) -> None:
    """Add keywords (pattern, example) to a parameter's schema."""
    for parameter in operation(schema, method, path).get("parameters", []):
        if parameter["name"] == name:
            parameter["schema"].update(extra)
            if "example" in extra:
                parameter["example"] = extra["example"]
