"""Property-based API testing from the OpenAPI document (schemathesis).

Every operation is called with generated data, as an owner and as an
annotator, with real ids of the caller's workspace for the path parameters
(destructive calls get generated ids, so the world survives the run). The
checks: never a 5xx, status codes, content types and bodies that the
document declares.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from factories import make_side

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def sqlite_rt(tmp_path, sqlite_template):
    import shutil

    from bastion.services.runtime import Runtime
    from environment import make_settings

    target = tmp_path / "data" / "bastion.db"
    target.parent.mkdir(parents=True)
    shutil.copy(sqlite_template, target)
    runtime = Runtime.open(make_settings(tmp_path, f"sqlite:///{target}"), migrate_schema="never")
    yield runtime
    runtime.close()


@pytest.fixture
def api_world(sqlite_rt):
    from bastion.web.app import create_app

    side = make_side(sqlite_rt, "st", n_tasks=30, settings={"overlap": 2})
    app = create_app(sqlite_rt)
    return app, side


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("role", ["owner", "annotator"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_and_never_fails(api_world, role, mode):
    app, side = api_world
    real = {"workspace_id": side.workspace_id, "project_id": side.project_id, "user_id": side.users[role]}
    failures = []
    for operation in _operations(app):
        fixed = None
        if operation.method.upper() != "DELETE":
            names = [p.name for p in operation.path_parameters]
            fixed = {n: real[n] for n in names if n in real} or None

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
        @settings(
            max_examples=8, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def check(case):
            case.call_and_validate(headers=side.headers(role), checks=CHECKS)

        try:
            check()
        except Unsatisfiable:
            continue  # no invalid input exists for this operation (negative mode)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
