"""The published OpenAPI document of API v1: generated from the app's routes, written to
docs/api/openapi-v1.json by `python -m relayer.api.openapi` and checked by a test to equal it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

WEB_DIR = Path(__file__).parent / "web"
"""The web app's static files (served at /app/)."""
PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi-v1.json"


def v1_spec(app: FastAPI) -> dict[str, Any]:
    """OpenAPI 3 document of the app's /v1 routes."""
    router: APIRouter = app.state.v1
    v1 = [r for r in router.routes if isinstance(r, APIRoute) and r.include_in_schema]
    return get_openapi(
        title="xmargin API", version="1.0.0", routes=v1,
        description="Accounts, pending transfers, routes, the message explorer, the solvency audit, "
        "server-sent events and (devnet) actions. Errors: {\"error\": {\"code\", \"message\"}}.",
    )


def render(spec: dict[str, Any]) -> str:
    """The document as published (sorted keys, two-space indent, final newline)."""
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def main() -> None:
    """Write docs/api/openapi-v1.json (or print it with `-`)."""
    from relayer.api.app import create_app
    from relayer.config import Settings

    settings = Settings.model_validate({"chains": {}, "deployment_file": "/nonexistent"})
    text = render(v1_spec(create_app(settings)))
    if sys.argv[1:] == ["-"]:
        sys.stdout.write(text)
    else:
        PUBLISHED.write_text(text)
        print(f"wrote {PUBLISHED}")


if __name__ == "__main__":
    main()
