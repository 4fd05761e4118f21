"""SCIM 2.0 (RFC 7643, RFC 7644) under ``/scim/v2``: the protocol, on ``scim2-models``.

An app of its own, mounted by web/app.py, so that everything it answers — errors, unknown paths,
wrong methods — is SCIM (``application/scim+json``, the Error schema with ``scimType``), never the
API's JSON. Authentication: a SCIM token (services/scim.py), nothing else. What is decided
(people, deactivation, groups and the workspace roles they grant) lives in services/scim.py.

What Bastion publishes in ``/Schemas`` is what it keeps, so a client can rely on every attribute
it reads there:

* User: ``userName`` (the e-mail; required, unique), ``displayName`` and ``name.formatted`` (the
  person's one name: a change to either sets it), ``active``, ``emails`` (read-only: the
  ``userName``, primary), ``groups`` (read-only), ``externalId``. Other attributes a client sends
  (``name.givenName``/``familyName``, phone numbers, …) are not kept; a given and family name
  make the name when neither ``displayName`` nor ``name.formatted`` is given. ``active`` is
  published as required (every person is active or not): a POST without it means active, and
  a PATCH cannot remove it.
* Group: ``displayName`` (unique, case-insensitively), ``members`` (people: ``value``, ``$ref``,
  ``type`` as RFC 7643 §8.7.1 lists them), ``externalId``.

Lists: ``filter`` (any RFC 7644 filter; ``userName eq``, ``emails.value eq``, ``externalId eq``
and ``displayName eq`` are index look-ups, anything else is evaluated over the people or groups),
``startIndex``/``count`` paging, ``attributes``/``excludedAttributes``, and ``POST /.search``.
No sorting, no bulk, no ETags (the ServiceProviderConfig says so).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Email,
    Error,
    ETag,
    Filter,
    Group,
    GroupMember,
    GroupMembership,
    Meta,
    Mutability,
    Name,
    Patch,
    PatchOp,
    Required,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    ScimFilter,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_models import (
    Context as ScimCtx,
)
from scim2_models.path import CompareOperator, Comparison
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..domain import errors as e
from ..domain.text import has_nul
from ..services import scim as svc
from ..services.context import Context
from ..services.runtime import Runtime

log = logging.getLogger("bastion.web")

SCIM_JSON = "application/scim+json"
PREFIX = "/scim/v2"
MAX_RESULTS = 200
EVERYTHING = 2**62  # a page size that is no limit (the root search pages over both types itself)
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=SCIM_JSON, headers=headers)


def _error(status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None) -> Response:
    body = Error(status=status, detail=detail, scim_type=scim_type).model_dump(scim_ctx=ScimCtx.DEFAULT)
    return _json(body, status, headers)


# Bastion's errors as SCIM's (RFC 7644 §3.12).
def _from_bastion(exc: e.BastionError) -> Response:
    if isinstance(exc, e.Unauthenticated):
        return _error(401, exc.message, headers={"WWW-Authenticate": 'Bearer realm="scim"'})
    if isinstance(exc, e.PermissionDenied):
        return _error(403, exc.message)
    if isinstance(exc, e.NotFound):
        return _error(404, exc.message)
    if isinstance(exc, e.Conflict):
        return _error(409, exc.message, "uniqueness")
    if isinstance(exc, e.PayloadTooLarge):
        return _error(413, exc.message)
    if isinstance(exc, e.RateLimited):
        return _error(429, exc.message)
    if isinstance(exc, e.Unavailable):
        return _error(503, exc.message)
    return _error(400, exc.message, "invalidValue")


def _from_scim(exc: SCIMException) -> Response:
    error = exc.to_error()
    status = int(error.status or 400)
    return _error(status, error.detail or str(exc), error.scim_type)


def _from_validation(exc: ValidationError) -> Response:
    first: dict[str, Any] = dict(exc.errors()[0]) if exc.errors() else {}
    where = ".".join(str(x) for x in first.get("loc", ()) if x != "__root__")
    message = first.get("msg", "invalid value")
    scim_type = (first.get("ctx") or {}).get("scim_type") if isinstance(first.get("ctx"), dict) else None
    return _error(400, f"{where}: {message}" if where else message, scim_type or "invalidValue")


def _base(rt: Runtime, request: Request) -> str:
    if rt.settings.public_url:
        return rt.settings.public_url.rstrip("/") + PREFIX
    return f"{request.url.scheme}://{request.url.netloc}{PREFIX}"


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise e.Unauthenticated("send 'Authorization: Bearer <SCIM token>'")
    return secret.strip()


# -- resources as SCIM shows them ----------------------------------------------------------------


def _user(view: svc.PersonView, base: str) -> User:
    p = view.person
    groups = [
        GroupMembership(value=g.id, ref=f"{base}/Groups/{g.id}", display=g.display_name, type="direct")
        for g in view.groups
    ]
    return User(
        id=p.id,
        external_id=p.external_id,
        user_name=p.email,
        display_name=p.name or None,
        name=Name(formatted=p.name) if p.name else None,
        active=p.is_active,
        emails=[Email(value=p.email, primary=True)],
        groups=groups or None,
        meta=Meta(
            resource_type="User",
            created=_when(p.created_at),
            last_modified=_when(p.updated_at),
            location=f"{base}/Users/{p.id}",
        ),
    )


def _group(view: svc.GroupView, base: str) -> Group:
    g = view.group
    members = [GroupMember(value=m.user_id, ref=f"{base}/Users/{m.user_id}", type="User") for m in view.members]
    return Group(
        id=g.id,
        external_id=g.external_id,
        display_name=g.display_name,
        members=members or None,
        meta=Meta(
            resource_type="Group",
            created=_when(g.created_at),
            last_modified=_when(g.updated_at),
            location=f"{base}/Groups/{g.id}",
        ),
    )


def _person_in(user: User, *, active_if_absent: bool = True) -> svc.PersonIn:
    """``active_if_absent``: a POST without ``active`` makes an active person; a PUT keeps the state."""
    name = user.display_name or (user.name.formatted if user.name else None)
    if not name and user.name and (user.name.given_name or user.name.family_name):
        name = " ".join(x for x in (user.name.given_name, user.name.family_name) if x)
    if not user.user_name:
        raise ScimError(400, "userName: required (the person's e-mail address)", "invalidValue")
    return svc.PersonIn(
        email=user.user_name,
        name=name or "",
        active=active_if_absent if user.active is None else bool(user.active),
        external_id=user.external_id,
    )


def _group_in(group: Group) -> svc.GroupIn:
    if not group.display_name:
        raise ScimError(400, "displayName: required", "invalidValue")
    members = set()
    for member in group.members or []:
        if member.type not in (None, "User"):
            raise ScimError(400, "members: only people (type User) can be members of a group", "invalidValue")
        if not member.value:
            raise ScimError(400, "members: each member needs its value (the user's id)", "invalidValue")
        members.add(member.value)
    return svc.GroupIn(group.display_name, group.external_id, frozenset(members))


# -- what the service provider publishes ---------------------------------------------------------


def _keep(
    schema: Schema, attributes: dict[str, set[str] | None], read_only: set[str], required: frozenset[str] = frozenset()
) -> Schema:
    """The schema with only the attributes Bastion keeps (and these sub-attributes); ``read_only``:
    attributes (or ``attr.sub``) Bastion derives; ``required``: attributes every resource has."""
    kept = []
    for attribute in schema.attributes or []:
        if attribute.name not in attributes:
            continue
        subs = attributes[attribute.name]
        if attribute.sub_attributes is not None:
            if subs is not None:
                attribute.sub_attributes = [s for s in attribute.sub_attributes if s.name in subs]
            for sub in attribute.sub_attributes:
                if f"{attribute.name}.{sub.name}" in read_only or attribute.name in read_only:
                    sub.mutability = Mutability.read_only
        if attribute.name in read_only:
            attribute.mutability = Mutability.read_only
        if attribute.name in required:
            attribute.required = Required.true
        kept.append(attribute)
    schema.attributes = kept
    return schema


def _schemas(base: str) -> list[Schema]:
    user = _keep(
        User.to_schema(),
        {
            "userName": None,
            "name": {"formatted"},
            "displayName": None,
            "active": None,
            "emails": {"value", "primary"},
            "groups": None,
        },
        {"emails", "groups"},
        # Every person is active or not: a PATCH cannot remove it (a POST without it means active).
        frozenset({"active"}),
    )
    user.description = "A person; userName is their e-mail address."
    # Members as RFC 7643 §8.7.1 has them: value, $ref, type (no display name).
    group = _keep(Group.to_schema(), {"displayName": None, "members": {"value", "$ref", "type"}}, set())
    group.description = "A group of people; BASTION_GROUP_ROLES maps its displayName to workspace roles."
    for schema in (user, group):
        schema.meta = Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")
    return [user, group]


def _resource_types(base: str) -> list[ResourceType]:
    out = []
    for model in (User, Group):
        rt = ResourceType.from_resource(model)
        rt.meta = Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/{rt.id}")
        out.append(rt)
    return out


def _service_provider_config(base: str) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="SCIM token",
                description="A bearer token made with 'bastion scim token create'.",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )


# -- lists, filters and paging -------------------------------------------------------------------


def _paging(start_index: Any, count: Any) -> tuple[int, int]:
    try:
        start = max(1, int(start_index)) if start_index not in (None, "") else 1
        size = int(count) if count not in (None, "") else MAX_RESULTS
    except (TypeError, ValueError) as exc:
        raise ScimError(400, "startIndex and count: whole numbers", "invalidValue") from exc
    return start, max(0, min(size, MAX_RESULTS))


def _parse_filter(model: type, text: str | None) -> ScimFilter | None:
    if text is None or text == "":
        return None
    try:
        return ScimFilter[model](text)  # type: ignore[valid-type]
    except (SCIMException, ValueError) as exc:
        raise ScimError(400, f"filter: {exc}", "invalidFilter") from exc


def _lookup(node: Any, names: dict[str, str]) -> tuple[str, str] | None:
    """An ``attr eq "value"`` filter on one of ``names`` (lower-cased path -> keyword): (keyword, value)."""
    if not isinstance(node, Comparison) or node.op != CompareOperator.eq or not isinstance(node.value, str):
        return None
    path = str(node.attr_path).lower()
    for urn in (USER_URN.lower() + ":", GROUP_URN.lower() + ":"):
        path = path.removeprefix(urn)
    keyword = names.get(path)
    return None if keyword is None else (keyword, node.value)


def _list_users(ctx: Context, flt: ScimFilter | None, start: int, size: int) -> tuple[int, list[svc.PersonView]]:
    if flt is None:
        return svc.list_people(ctx, offset=start - 1, limit=size)
    lookup = _lookup(flt.ast, {"username": "email", "emails.value": "email", "externalid": "external_id"})
    if lookup is not None:
        found = svc.find_people(ctx, **{lookup[0]: lookup[1]})
    else:  # any other filter: evaluated over everyone SCIM shows
        total, everyone = svc.list_people(ctx)
        found = [v for v in everyone if flt.match(_user(v, ""))]
    return len(found), found[start - 1 : start - 1 + size]


def _list_groups(ctx: Context, flt: ScimFilter | None, start: int, size: int) -> tuple[int, list[svc.GroupView]]:
    if flt is None:
        return svc.list_groups(ctx, offset=start - 1, limit=size)
    lookup = _lookup(flt.ast, {"displayname": "display_name", "externalid": "external_id"})
    if lookup is not None:
        found = svc.find_groups(ctx, **{lookup[0]: lookup[1]})
    else:
        total, everyone = svc.list_groups(ctx)
        found = [v for v in everyone if flt.match(_group(v, ""))]
    return len(found), found[start - 1 : start - 1 + size]


def _response_parameters(model: type, attributes: Any, excluded: Any) -> ResponseParameters | None:
    if not attributes and not excluded:
        return None
    try:
        return ResponseParameters[model].model_validate(  # type: ignore[valid-type]
            {"attributes": attributes or None, "excludedAttributes": excluded or None}
        )
    except (ValidationError, SCIMException, ValueError) as exc:
        raise ScimError(400, f"attributes: {exc}", "invalidPath") from exc


# -- the app -----------------------------------------------------------------------------------


def create_scim_app(rt: Runtime) -> FastAPI:
    """The /scim/v2 app (web/app.py mounts it)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc):
        if exc.status_code == 404:
            return _error(404, f"no such SCIM endpoint: {request.url.path}")
        if exc.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}")
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(request, exc):  # pragma: no cover - a bug: logged, answered as SCIM
        log.exception("SCIM request failed: %s %s", request.method, request.url.path)
        return _error(500, "internal error")

    async def serve(request: Request, work: Callable[[Context, str, Any], Any], *, body: bool = False) -> Response:
        """Authenticate, read the JSON body, run ``work(ctx, base, payload)`` in a thread; errors as SCIM."""
        payload = None
        try:
            if body:
                raw = await request.body()
                try:
                    payload = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise ScimError(400, f"the body is not JSON: {exc}", "invalidSyntax") from exc
                if not isinstance(payload, dict):
                    raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
                if has_nul(payload):
                    raise ScimError(400, "the body must not contain the NUL character (U+0000)", "invalidValue")
            secret = _bearer(request)

            def run():
                ctx = svc.resolve_token(rt, secret)
                return work(ctx, _base(rt, request), payload)

            return await run_in_threadpool(run)
        except ScimError as exc:
            return _error(exc.status, exc.detail, exc.scim_type)
        except e.BastionError as exc:
            return _from_bastion(exc)
        except SCIMException as exc:
            return _from_scim(exc)
        except ValidationError as exc:
            return _from_validation(exc)

    def query(request: Request, name: str) -> str | None:
        return request.query_params.get(name)

    # -- discovery --------------------------------------------------------------------------

    @app.get("/ServiceProviderConfig")
    async def service_provider_config(request: Request):
        return await serve(request, lambda ctx, base, _: _json(_dump(_service_provider_config(base))))

    @app.get("/Schemas")
    async def schemas(request: Request):
        def work(ctx, base, _):
            found = _schemas(base)
            return _json(_list(found, len(found), 1))

        return await serve(request, work)

    @app.get("/Schemas/{schema_id}")
    async def schema(request: Request, schema_id: str):
        def work(ctx, base, _):
            for s in _schemas(base):
                if s.id == schema_id:
                    return _json(_dump(s))
            raise ScimError(404, f"no such schema: {schema_id}")

        return await serve(request, work)

    @app.get("/ResourceTypes")
    async def resource_types(request: Request):
        def work(ctx, base, _):
            found = _resource_types(base)
            return _json(_list(found, len(found), 1))

        return await serve(request, work)

    @app.get("/ResourceTypes/{type_id}")
    async def resource_type(request: Request, type_id: str):
        def work(ctx, base, _):
            for t in _resource_types(base):
                if t.id == type_id:
                    return _json(_dump(t))
            raise ScimError(404, f"no such resource type: {type_id}")

        return await serve(request, work)

    # -- users --------------------------------------------------------------------------------

    def list_users(ctx, base, params: dict) -> Response:
        flt = _parse_filter(User, params.get("filter"))
        start, size = _paging(params.get("startIndex"), params.get("count"))
        shown = _response_parameters(User, params.get("attributes"), params.get("excludedAttributes"))
        total, page = _list_users(ctx, flt, start, size)
        return _json(_list([_user(v, base) for v in page], total, start, shown))

    @app.get("/Users")
    async def users_list(request: Request):
        return await serve(request, lambda ctx, base, _: list_users(ctx, base, dict(request.query_params)))

    @app.post("/Users/.search")
    async def users_search(request: Request):
        return await serve(request, lambda ctx, base, body: list_users(ctx, base, _search(User, body)), body=True)

    @app.post("/Users")
    async def users_create(request: Request):
        def work(ctx, base, body):
            user: User = User.model_validate(body, scim_ctx=ScimCtx.RESOURCE_CREATION_REQUEST)
            view = svc.create_person(ctx, _person_in(user))
            made = _user(view, base)
            return _json(
                _dump(made, ScimCtx.RESOURCE_CREATION_RESPONSE), 201, {"Location": f"{base}/Users/{view.person.id}"}
            )

        return await serve(request, work, body=True)

    @app.get("/Users/{user_id}")
    async def users_get(request: Request, user_id: str):
        def work(ctx, base, _):
            shown = _response_parameters(User, query(request, "attributes"), query(request, "excludedAttributes"))
            return _json(_dump(_user(svc.get_person(ctx, user_id), base), shown=shown))

        return await serve(request, work)

    @app.put("/Users/{user_id}")
    async def users_put(request: Request, user_id: str):
        def work(ctx, base, body):
            user: User = User.model_validate(body, scim_ctx=ScimCtx.RESOURCE_REPLACEMENT_REQUEST)
            current = svc.get_person(ctx, user_id).person.is_active
            view = svc.replace_person(ctx, user_id, _person_in(user, active_if_absent=current))
            return _json(_dump(_user(view, base), ScimCtx.RESOURCE_REPLACEMENT_RESPONSE))

        return await serve(request, work, body=True)

    @app.patch("/Users/{user_id}")
    async def users_patch(request: Request, user_id: str):
        def work(ctx, base, body):
            kept = _kept_operations(body)
            before = _user(svc.get_person(ctx, user_id), base)
            if kept is not body and not next(v for k, v in kept.items() if k.lower() == "operations"):
                return _json(_dump(before, ScimCtx.RESOURCE_PATCH_RESPONSE))  # only attributes Bastion does not keep
            patch = PatchOp[User].model_validate(kept, scim_ctx=ScimCtx.RESOURCE_PATCH_REQUEST)
            after = before.model_copy(deep=True)
            patch.patch(after)
            view = svc.replace_person(ctx, user_id, _patched_person(before, after))
            return _json(_dump(_user(view, base), ScimCtx.RESOURCE_PATCH_RESPONSE))

        return await serve(request, work, body=True)

    @app.delete("/Users/{user_id}")
    async def users_delete(request: Request, user_id: str):
        def work(ctx, base, _):
            svc.delete_person(ctx, user_id)
            return Response(status_code=204)

        return await serve(request, work)

    # -- groups -------------------------------------------------------------------------------

    def list_groups(ctx, base, params: dict) -> Response:
        flt = _parse_filter(Group, params.get("filter"))
        start, size = _paging(params.get("startIndex"), params.get("count"))
        shown = _response_parameters(Group, params.get("attributes"), params.get("excludedAttributes"))
        total, page = _list_groups(ctx, flt, start, size)
        return _json(_list([_group(v, base) for v in page], total, start, shown))

    @app.get("/Groups")
    async def groups_list(request: Request):
        return await serve(request, lambda ctx, base, _: list_groups(ctx, base, dict(request.query_params)))

    @app.post("/Groups/.search")
    async def groups_search(request: Request):
        return await serve(request, lambda ctx, base, body: list_groups(ctx, base, _search(Group, body)), body=True)

    @app.post("/Groups")
    async def groups_create(request: Request):
        def work(ctx, base, body):
            group = Group.model_validate(body, scim_ctx=ScimCtx.RESOURCE_CREATION_REQUEST)
            made = _group(svc.create_group(ctx, _group_in(group)), base)
            return _json(_dump(made, ScimCtx.RESOURCE_CREATION_RESPONSE), 201, {"Location": f"{base}/Groups/{made.id}"})

        return await serve(request, work, body=True)

    @app.get("/Groups/{group_id}")
    async def groups_get(request: Request, group_id: str):
        def work(ctx, base, _):
            shown = _response_parameters(Group, query(request, "attributes"), query(request, "excludedAttributes"))
            return _json(_dump(_group(svc.get_group(ctx, group_id), base), shown=shown))

        return await serve(request, work)

    @app.put("/Groups/{group_id}")
    async def groups_put(request: Request, group_id: str):
        def work(ctx, base, body):
            group = Group.model_validate(body, scim_ctx=ScimCtx.RESOURCE_REPLACEMENT_REQUEST)
            view = svc.replace_group(ctx, group_id, _group_in(group))
            return _json(_dump(_group(view, base), ScimCtx.RESOURCE_REPLACEMENT_RESPONSE))

        return await serve(request, work, body=True)

    @app.patch("/Groups/{group_id}")
    async def groups_patch(request: Request, group_id: str):
        def work(ctx, base, body):
            patch = PatchOp[Group].model_validate(body, scim_ctx=ScimCtx.RESOURCE_PATCH_REQUEST)
            group = _group(svc.get_group(ctx, group_id), base)
            patch.patch(group)
            view = svc.replace_group(ctx, group_id, _group_in(group))
            return _json(_dump(_group(view, base), ScimCtx.RESOURCE_PATCH_RESPONSE))

        return await serve(request, work, body=True)

    @app.delete("/Groups/{group_id}")
    async def groups_delete(request: Request, group_id: str):
        def work(ctx, base, _):
            svc.delete_group(ctx, group_id)
            return Response(status_code=204)

        return await serve(request, work)

    @app.post("/.search")
    async def search_all(request: Request):
        """Both resource types at once (RFC 7644 §3.4.3): people first, then groups."""

        def work(ctx, base, body):
            asked: SearchRequest = SearchRequest.model_validate(body, scim_ctx=ScimCtx.SEARCH_REQUEST)
            text = str(asked.filter) if asked.filter else None
            start, size = _paging(asked.start_index, asked.count)
            user_filter, group_filter = _parse_filter(User, text), _parse_filter(Group, text)
            users_total, people = _list_users(ctx, user_filter, 1, EVERYTHING)
            groups_total, groups = _list_groups(ctx, group_filter, 1, EVERYTHING)
            found = [_user(v, base) for v in people] + [_group(v, base) for v in groups]
            page = found[start - 1 : start - 1 + size]
            shown: ResponseParameters = ResponseParameters.model_validate(
                {"attributes": asked.attributes, "excludedAttributes": asked.excluded_attributes}
            )
            return _json(_list(page, len(found), start, shown))

        return await serve(request, work, body=True)

    return app


def _dump(model: Any, scim_ctx: ScimCtx = ScimCtx.RESOURCE_QUERY_RESPONSE, shown: Any = None) -> dict:
    return model.model_dump(scim_ctx=scim_ctx, response_parameters=shown)


def _list(resources: list, total: int, start: int, shown: Any = None) -> dict:
    """A ListResponse (RFC 7644 §3.4.2), each resource dumped with the requested attributes."""
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": [_dump(r, ScimCtx.SEARCH_RESPONSE, shown) for r in resources],
    }


def _search(model: type, body: dict) -> dict:
    """A SearchRequest's parameters, as the query string would carry them."""
    request = SearchRequest[model].model_validate(body, scim_ctx=ScimCtx.SEARCH_REQUEST)  # type: ignore[valid-type]
    return {
        "filter": str(request.filter) if request.filter else None,
        "startIndex": request.start_index,
        "count": request.count,
        "attributes": [str(a) for a in request.attributes] if request.attributes else None,
        "excludedAttributes": [str(a) for a in request.excluded_attributes] if request.excluded_attributes else None,
    }


# The User attributes Bastion keeps (lower-cased); a PATCH operation on any other is ignored, as the
# attributes themselves are when a POST or PUT carries them (identity providers send their defaults:
# Entra ID's ``emails[type eq "work"].value``, ``phoneNumbers``, ``title``, the enterprise extension).
KEPT_USER_ATTRIBUTES = frozenset({"username", "name", "displayname", "active", "externalid"})


def _kept_operations(body: dict) -> dict:
    """A User PatchOp body without the operations on attributes Bastion does not keep."""
    key = next((k for k in body if k.lower() == "operations"), None)
    if key is None or not isinstance(body[key], list):
        return body
    kept = []
    for operation in body[key]:
        path = operation.get("path") if isinstance(operation, dict) else None
        if isinstance(path, str) and path:
            bare = path.removeprefix(USER_URN + ":") if path.startswith(USER_URN + ":") else path
            if bare.startswith("urn:"):
                continue  # an extension's attribute (enterprise user, …): not kept
            root = bare.split("[", 1)[0].split(".", 1)[0].lower()
            if root not in KEPT_USER_ATTRIBUTES:
                continue
        kept.append(operation)
    return {**body, key: kept}


def _patched_person(before: User, after: User) -> svc.PersonIn:
    """What a PATCH made of a person: the name is whichever of displayName and name.formatted changed."""
    name_before = before.name.formatted if before.name else None
    name_after = after.name.formatted if after.name else None
    if after.display_name != before.display_name:
        after.name = Name(formatted=after.display_name) if after.display_name else None
    elif name_after != name_before:
        after.display_name = name_after
    elif after.name and (after.name.given_name or after.name.family_name) and not after.display_name:
        after.display_name = " ".join(x for x in (after.name.given_name, after.name.family_name) if x)
    if after.active is None:
        raise ScimError(400, "active: a person is active or not; replace it instead of removing it", "mutability")
    return _person_in(after)
