"""Generated requests against the real server, from its own OpenAPI document (schemathesis).

Every operation the server publishes is called with requests generated from that document,
valid ones and invalid ones, carrying a valid access token so the authenticated routes are
reached and not only refused. A bounded number of examples per operation and mode keeps the
run to seconds. No answer may be a server error, and every answer must match what the
document says about it (body schema and content type).
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance
from schemathesis.generation import GenerationMode

from tests.e2e import loadgen
from tests.e2e.conftest import Server

# Slow: run by `make test-reliability` (CI and the template's slow tier), not `make test`.
pytestmark = pytest.mark.reliability

EXAMPLES = 15
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
async def token_headers(http: httpx.AsyncClient) -> dict[str, str]:
    return await loadgen.sign_up(http)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_the_api_answers_as_its_schema_says(
    server: Server, token_headers: dict[str, str], mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    failures: dict[str, str] = {}
    calls = 0
    nothing_to_break: list[str] = []

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(base_url=server.url, headers=token_headers, checks=CHECKS)

        try:
            call()
        except Unsatisfiable:
            # No parameters and no body (the probes, /users/me): no request can be invalid.
            assert mode is GenerationMode.NEGATIVE, operation.label
            nothing_to_break.append(operation.label)
        except Exception as exc:  # every operation is tried; the failures are reported together
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:2000]

    assert failures == {}
    assert len(operations) >= 9
    assert len(nothing_to_break) <= 3, nothing_to_break
    assert calls >= len(operations) - len(nothing_to_break)
