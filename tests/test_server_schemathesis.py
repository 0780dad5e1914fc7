"""Schemathesis fuzzes every operation of the OpenAPI schema: no 5xx, responses match the schema.

All checks run except ``positive_data_acceptance``: a schema cannot say everything the
library refuses (identifiers with format or unassigned characters, cursors this API did not
issue, dates such as ``"0000-00-00"``), so some schema-valid requests rightly get a 422 with
a message naming the rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from engram import AsyncMemory, HashingEmbedder, Memory
from engram.auth import create_key
from engram.server import create_app


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else repr(value).encode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    memory = AsyncMemory(tmp_path / "fuzz.db", embedder=HashingEmbedder())
    _, key = create_key(memory.sync.store, "fuzz")
    app = create_app(memory, require_keys=True, mcp=False)
    seeded = Memory(store=memory.sync.store, embedder=memory.sync.embedder, tenant="fuzz")
    seeded.add([{"role": "user", "content": "seed turn"}], user_id="0", session_id="0")
    yield app, key
    memory.sync.close()


def fuzz(operation: Any, auth: dict[str, str]) -> None:
    """Hypothesis-generated requests for one operation; each checked against the schema."""

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        response = case.call(headers=auth)
        assert response.status_code < 500, f"{operation.label}: {response.text}"
        case.validate_response(response, excluded_checks=[positive_data_acceptance])

    run()


@pytest.mark.slow
def test_api_conforms_and_never_fails(served: tuple[Any, str]) -> None:
    app, key = served
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 34  # 21, and 13 of agent memory (routes_agents)
    for operation in operations:
        fuzz(operation, {"Authorization": f"Bearer {key}"})
