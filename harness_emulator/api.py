"""The list routes of the HAR API (artifacts, registries, versions of one artifact), with the
open-source server's routing, paging, sorting and error quirks. Pure request-in, response-out:
no sockets here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import unquote

from .dataset import (
    ARTIFACT_SORT_FIELDS,
    ARTIFACT_TYPES,
    HUGGINGFACE,
    REGISTRY_SCOPES,
    REGISTRY_SORT_FIELDS,
    Dataset,
    Registry,
)
from .responses import (
    Response,
    ServedPage,
    error_response,
    json_response,
    not_found,
    text_response,
    unauthorized,
)
from .versions import VERSION_SORT_FIELDS

# The public docs' base and the gateway base that Harness's CLI and Terraform provider use.
API_PREFIXES = ("/gateway/har/api/v1/", "/har/api/v1/")
DEFAULT_PAGE_SIZE = 10
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = 2**63 - 1
_ENCODED_REF_VERSIONS = re.compile(r"([^/]+)/(artifact/[^/]+/\+/versions)")

Query = dict[str, list[str]]


class BadParameter(Exception):
    """A query parameter that is not an integer: the binder answers 400 in plain text."""


@dataclass(frozen=True)
class Route:
    resource: str  # "artifacts", "registries" or "versions"
    ref: str  # the registry ref or space ref, decoded
    artifact: str | None = None  # the artifact whose versions are listed, decoded


@dataclass(frozen=True)
class Paging:
    """Offset paging as the server computes it from `page` and `size`."""

    offset: int
    limit: int
    page_index: int

    @classmethod
    def from_query(cls, query: Query) -> Paging:
        page = _int_param(query, "page")
        size = _int_param(query, "size")
        limit = DEFAULT_PAGE_SIZE if size is None else size
        # The offset only applies when both are sent: `page` alone returns the first page.
        offset = page * size if page is not None and size is not None else 0
        # pageIndex echoes the page sent, and says 1 when none was sent.
        return cls(offset=offset, limit=limit, page_index=1 if page is None else page)

    @property
    def negative(self) -> bool:
        return self.offset < 0 or self.limit < 0

    @property
    def served_page(self) -> int:
        return self.offset // self.limit

    def page_count(self, item_count: int) -> int:
        return math.ceil(item_count / self.limit)


def match_route(raw_path: str) -> Route | None:
    """Match `/har/api/v1/registry/REF/+/artifacts`, `/har/api/v1/spaces/REF/+/registries` and
    `/har/api/v1/registry/REF/+/artifact/NAME/+/versions`, or their fully URL-encoded forms
    without `/+` (`registry/a%2Fb/artifacts`). NAME is one segment: a `/` in it is encoded."""
    for prefix in API_PREFIXES:
        if raw_path.startswith(prefix):
            rest = raw_path[len(prefix) :]
            break
    else:
        return None
    for collection, resource in (("registry/", "artifacts"), ("spaces/", "registries")):
        if rest.startswith(collection):
            scoped = _scoped_ref(rest[len(collection) :])
            if scoped is None:
                return None
            ref, suffix = scoped
            if suffix == resource:
                return Route(resource, ref)
            if resource == "artifacts":
                artifact = _versions_artifact(suffix)
                if artifact is not None:
                    return Route("versions", ref, artifact)
            return None
    return None


def _scoped_ref(tail: str) -> tuple[str, str] | None:
    """The decoded ref and what follows it."""
    encoded_ref_versions = _ENCODED_REF_VERSIONS.fullmatch(tail)
    if encoded_ref_versions:
        # `a%2Fb/artifact/NAME/+/versions`: an encoded ref, and `/+` only after the artifact.
        raw_ref, suffix = encoded_ref_versions.group(1), encoded_ref_versions.group(2)
        segments = [raw_ref]
    elif "/+/" in tail:
        raw_ref, _, suffix = tail.partition("/+/")
        segments = raw_ref.split("/")
    else:
        # Without `/+` the ref must be one path segment: slashes in it must be encoded.
        raw_ref, _, suffix = tail.partition("/")
        segments = [raw_ref]
    if not raw_ref:
        return None
    return "/".join(unquote(segment) for segment in segments), suffix


def _versions_artifact(suffix: str) -> str | None:
    """The artifact of `artifact/NAME/+/versions` (or `artifact/NAME/versions`), decoded."""
    if not suffix.startswith("artifact/"):
        return None
    raw_name, _, tail = suffix[len("artifact/") :].partition("/")
    if not raw_name or tail not in ("+/versions", "versions"):
        return None
    return unquote(raw_name)


def _first(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _int_param(query: Query, name: str) -> int | None:
    raw = _first(query, name)
    if raw is None:
        return None
    if not _GO_INT.fullmatch(raw):
        raise BadParameter(
            f"Invalid format for parameter {name}: error binding string parameter: "
            f'strconv.ParseInt: parsing "{raw}": invalid syntax'
        )
    value = int(raw)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise BadParameter(
            f"Invalid format for parameter {name}: error binding string parameter: "
            f'strconv.ParseInt: parsing "{raw}": value out of range'
        )
    return value


def _refuse_artifact_type(artifact_type: str | None, package_type: str) -> Response | None:
    """`artifact_type` is for Hugging Face registries only, and only `model` or `dataset`."""
    if artifact_type is None:
        return None
    if package_type != HUGGINGFACE:
        return error_response(
            400, f"artifact type {artifact_type} is not supported for package type {package_type}"
        )
    if artifact_type not in ARTIFACT_TYPES:
        return error_response(400, f"invalid artifact type: {artifact_type}")
    return None


def _success(data: dict[str, object]) -> Response:
    return json_response(200, {"data": data, "status": "SUCCESS"})


def _divide_by_zero() -> Response:
    # size=0: the page count divides by the page size.
    return error_response(500, "runtime error: integer divide by zero")


class HarApi:
    """Answers API requests from a dataset, checking the API key like Harness's middleware."""

    def __init__(self, dataset: Dataset, api_key: str) -> None:
        self.dataset = dataset
        self.api_key = api_key

    def handle(self, method: str, raw_path: str, query: Query, api_key: str | None) -> Response:
        route = match_route(raw_path)
        if route is None:
            return not_found()
        if method != "GET":
            return text_response(405, "")
        if api_key != self.api_key:
            return unauthorized()
        try:
            if route.resource == "artifacts":
                return self.list_artifacts(route.ref, query)
            if route.resource == "versions":
                assert route.artifact is not None
                return self.list_versions(route.ref, route.artifact, query)
            return self.list_registries(route.ref, query)
        except BadParameter as exc:
            return text_response(400, str(exc))

    def _readable_registry(self, ref: str, paging: Paging, query: Query) -> Registry | Response:
        """The registry of a list request, or the error the server answers first, in its order:
        unknown (400), forbidden (403), negative paging (400), deleted (500), `artifact_type` on a
        registry that is not Hugging Face (400). Call with the dataset's lock held."""
        registry = self.dataset.find_registry(ref)
        if registry is None:
            return error_response(400, f"registry not found: {ref}")
        if registry.forbidden:
            return error_response(403, "forbidden")
        if paging.negative:
            return error_response(400, "page and size must be non-negative")
        if registry.deleted:
            return error_response(500, "Failed to find repo: resource not found")
        refused = _refuse_artifact_type(_first(query, "artifact_type"), registry.package_type)
        return registry if refused is None else refused

    def list_artifacts(self, ref: str, query: Query) -> Response:
        """GET /registry/{ref}/+/artifacts. The order of the checks is the server's."""
        paging = Paging.from_query(query)
        with self.dataset.lock:
            registry = self._readable_registry(ref, paging, query)
            if isinstance(registry, Response):
                return registry
            artifact_type = _first(query, "artifact_type")
            if paging.limit == 0:
                return _divide_by_zero()
            sort_field = _first(query, "sort_field")
            rows, item_count = self.dataset.query_artifacts(
                registry,
                # `label` is accepted and ignored, like the open-source server does.
                search_term=_first(query, "search_term") or "",
                artifact_type=artifact_type,
                sort_field=sort_field if sort_field in ARTIFACT_SORT_FIELDS else "createdAt",
                descending=_first(query, "sort_order") == "DESC",
                offset=paging.offset,
                limit=paging.limit,
            )
            response = _success(
                {
                    "artifacts": rows,
                    "itemCount": item_count,
                    "pageCount": paging.page_count(item_count),
                    "pageIndex": paging.page_index,
                    "pageSize": paging.limit,
                }
            )
            response.served_page = ServedPage(registry.path, paging.served_page)
            return response

    def list_versions(self, ref: str, name: str, query: Query) -> Response:
        """GET /registry/{ref}/+/artifact/{name}/+/versions. Registry checks as for artifacts,
        then the artifact lookup (404), then the page. `deleted` is accepted and ignored."""
        paging = Paging.from_query(query)
        with self.dataset.lock:
            registry = self._readable_registry(ref, paging, query)
            if isinstance(registry, Response):
                return registry
            artifact_type = _first(query, "artifact_type")
            artifacts = self.dataset.find_artifacts(registry, name, artifact_type)
            if not artifacts:
                # The image lookup's store.ErrResourceNotFound, answered as the spec's 404.
                return error_response(404, "resource not found")
            if paging.limit == 0:
                return _divide_by_zero()
            sort_field = _first(query, "sort_field")
            rows, item_count = self.dataset.query_versions(
                registry,
                artifacts,
                search_term=_first(query, "search_term") or "",
                sort_field=sort_field if sort_field in VERSION_SORT_FIELDS else "createdAt",
                descending=_first(query, "sort_order") == "DESC",
                offset=paging.offset,
                limit=paging.limit,
            )
        # No served_page: triggers fire on artifact listings only.
        return _success(
            {
                "artifactVersions": rows,
                "itemCount": item_count,
                "pageCount": paging.page_count(item_count),
                "pageIndex": paging.page_index,
                "pageSize": paging.limit,
            }
        )

    def list_registries(self, space: str, query: Query) -> Response:
        """GET /spaces/{space}/+/registries; unlike artifacts, itemCount here is exact."""
        paging = Paging.from_query(query)
        scope = _first(query, "scope")
        if scope is None:
            # The deprecated `recursive=true` means ancestors.
            scope = "ancestors" if _first(query, "recursive") == "true" else "none"
        with self.dataset.lock:
            if space not in self.dataset.spaces:
                return error_response(400, f"space not found: {space}")
            if scope not in REGISTRY_SCOPES:
                return error_response(400, f"invalid scope: {scope}")
            if paging.negative:
                return error_response(400, "page and size must be non-negative")
            if paging.limit == 0:
                return _divide_by_zero()
            sort_field = _first(query, "sort_field")
            rows, item_count = self.dataset.query_registries(
                space,
                scope=scope,
                package_types=query.get("package_type", []),
                registry_type=_first(query, "type"),
                search_term=_first(query, "search_term") or "",
                sort_field=sort_field if sort_field in REGISTRY_SORT_FIELDS else "createdAt",
                descending=_first(query, "sort_order") == "DESC",
                offset=paging.offset,
                limit=paging.limit,
            )
        response = _success(
            {
                "itemCount": item_count,
                "pageCount": paging.page_count(item_count),
                "pageIndex": paging.page_index,
                "pageSize": paging.limit,
                "registries": rows,
            }
        )
        # triggers keyed by a space ref fire after a page of its registry listing
        response.served_page = ServedPage(space, paging.served_page)
        return response
