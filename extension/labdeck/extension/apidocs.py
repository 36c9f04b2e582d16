"""Generate docs/api.md from the OpenAPI document (`openapi.document`).

Run `python -m labdeck.extension.apidocs > docs/api.md`; a test fails when
the committed page differs, so the REST reference can never drift from the
route table it is built from (as `configdocs.py` does for the settings).
"""

from __future__ import annotations

from typing import Any

from . import openapi
from .routes import ROUTES

# Nested objects are spelled out to this depth, then shown as `object`.
_DEPTH = 2


def _type(schema: dict[str, Any], depth: int = 0) -> str:
    """A compact, TypeScript-like spelling of a JSON schema."""
    if "enum" in schema:
        return " | ".join(f'"{value}"' for value in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(_type({**schema, "type": k}, depth) for k in kind)
    if kind == "array":
        item = _type(schema.get("items", {}), depth)
        return f"({item})[]" if " | " in item and not item.startswith("{") else f"{item}[]"
    if kind == "object":
        properties = schema.get("properties")
        if not properties or depth >= _DEPTH:
            return "object"
        return "{" + ", ".join(_fields(schema, depth + 1)) + "}"
    if kind is None:
        return "any"
    shown = str(kind)
    if "format" in schema:
        shown += f" ({schema['format']})"
    return shown


def _fields(schema: dict[str, Any], depth: int) -> list[str]:
    required = set(schema.get("required", []))
    return [
        f"{name}{'' if name in required else '?'}: {_type(sub, depth)}"
        for name, sub in schema.get("properties", {}).items()
    ]


def _content(content: dict[str, Any]) -> str:
    media, body = next(iter(content.items()))
    schema = body.get("schema", {})
    if media != "application/json":
        return f"`{media}`"
    return f"`{_type(schema)}`"


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    lines = ["", f"### `{method.upper()} {path}`", "", op["summary"].rstrip(".") + "."]
    if op.get("security") == []:
        lines += ["", "No sign-in needed."]
    params = [p for p in op["parameters"] if p["in"] == "query"]
    if params:
        lines += ["", "Query:"]
        lines += [f"- `{p['name']}` ({_type(p['schema'])}): {p['description']}" for p in params]
    request = op.get("requestBody")
    if request is not None:
        needed = "required" if request["required"] else "optional"
        lines += ["", f"Body ({needed}): {_content(request['content'])}"]
    for status, answer in op["responses"].items():
        if status.startswith("2"):
            if "content" in answer:
                lines += ["", f"Answer {status}: {_content(answer['content'])}"]
            else:
                lines += ["", f"Answer {status}, no body."]
    return lines


def render() -> str:
    doc = openapi.document(ROUTES)
    first = next(op for ops in doc["paths"].values() for op in ops.values())
    errors = {
        status: answer["description"]
        for status, answer in first["responses"].items()
        if not status.startswith("2")
    }
    lines = [
        "# REST API",
        "",
        "Generated from the OpenAPI document (`labdeck/extension/openapi.py`, built",
        "from the route table in `labdeck/extension/routes/`) by",
        "`python -m labdeck.extension.apidocs`; do not edit by hand. The server serves",
        "the same document, with every schema in full, at",
        "`GET /labdeck/api/openapi.json`.",
        "",
        "Every path is under the Jupyter server's base URL. JSON in, JSON out, unless",
        "an answer names another type. Who is asking ([identity.md](identity.md)):",
        "",
        "- the Jupyter sign-in of the request (a browser session, a Jupyter token):",
        "  in a single-user server, its owner; under JupyterHub, the Hub user;",
        "- `Authorization: token <JupyterHub token>` (or `Bearer`) at the team's",
        "  labdeck service ([hub.md](hub.md));",
        "- `Authorization: Bearer <labdeck API key>`: the key's owner, a person or a",
        "  service account. An unknown, revoked or malformed key answers 401; it never",
        "  falls back to another identity.",
        "",
        "Writes from a browser session need `jupyter_server`'s XSRF token; requests",
        "that carry an API key or a token do not. What each action needs is the",
        "permission table, [permissions.md](permissions.md).",
        "",
        "## Errors",
        "",
        'Every error answers `{"error": <kind>, "message": <for a person>}`, with',
        '`"field"` naming the field of a 422. A refusal never changes anything. 429 and',
        "503 carry `Retry-After` ([operations.md](operations.md)).",
        "",
        "| status | meaning |",
        "|---|---|",
        *(f"| {status} | {text} |" for status, text in errors.items()),
        "",
        "Lists that may grow are paged: `?limit=` and `?cursor=`, and the answer's",
        "`next_cursor` (null on the last page).",
        "",
        "In the shapes below, `name?` is a field that may be absent, `T[]` a list,",
        "`object` an object shown in full only in the OpenAPI document; answers may",
        "carry more fields than listed.",
    ]
    by_tag: dict[str, list[str]] = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            by_tag.setdefault(op["tags"][0], []).extend(_operation(method, path, op))
    for tag, operations in by_tag.items():
        lines += ["", f"## {tag}", *operations]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
