"""The one place AWS clients are made: retry mode, endpoint override, region, credentials.

Lambda handlers, the CLI and the local cloud all get clients here, so every call uses botocore's
standard retry mode and the same endpoint rules. The local cloud's Lambda runner executes handlers
in-process: it cannot change ``os.environ`` per invocation, so it binds the function's environment
(its variables plus the role's credentials) with :func:`using_environ`, and clients made inside read
that mapping instead of the process environment.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, overload

DEFAULT_REGION = "us-east-1"
RETRY_CONFIG: dict[str, Any] = {"mode": "standard", "max_attempts": 5}

# AWS error codes meaning the caller's credentials were refused (not the request).
CREDENTIALS_REFUSED = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId"})

_MAKING = threading.RLock()
_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("trailguard_environ", default=None)


def environ() -> Mapping[str, str]:
    """The environment the current code runs with: bound by the local Lambda runner, else the process's."""
    bound = _ENV.get()
    return bound if bound is not None else os.environ


@contextmanager
def using_environ(env: Mapping[str, str]) -> Iterator[None]:
    token = _ENV.set(dict(env))
    try:
        yield
    finally:
        _ENV.reset(token)


def error_fields(exc: BaseException) -> tuple[str, str]:
    """(code, message) of a botocore ``ClientError``'s ``Error``; empty strings for anything else.

    Read off ``exc.response`` so callers need not import botocore to tell one AWS error from another.
    """
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, Mapping) else None
    if not isinstance(error, Mapping):
        return "", ""
    return str(error.get("Code") or ""), str(error.get("Message") or "")


def error_code(exc: BaseException) -> str:
    """The AWS error code (``NoSuchBucket``), "" for anything that is not an AWS error response."""
    return error_fields(exc)[0]


def error_text(exc: BaseException) -> str:
    """``Code: message`` for an AWS error, ``Type: message`` for anything else."""
    code, message = error_fields(exc)
    if code:
        return f"{code}: {message}" if message else code
    return f"{type(exc).__name__}: {exc}"


def reach_problem(exc: BaseException) -> str | None:
    """What stopped a call from reaching AWS with this configuration, said as a person fixes it: no
    credentials, an unknown profile, no region, an endpoint that does not answer, credentials AWS
    refused. None for any other error (an AWS answer about the request itself).

    The CLI and deploy say the same thing for the same cause, and the CLI exits 1 for all of them:
    the command ran and could not reach AWS (trailguard.cli.exit).
    """
    from botocore.exceptions import (  # botocore only once an error is met: never at import
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found. Run `aws configure` or `aws sso login`, or pass --profile NAME"
    if isinstance(exc, ProfileNotFound):
        return f"{exc}. Check --profile against ~/.aws/config"
    if isinstance(exc, RegionNotSetError):
        return str(exc)
    if isinstance(exc, NoRegionError):
        return str(RegionNotSetError(None))
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach {exc.kwargs.get('endpoint_url')}. Check --endpoint-url"
    code = error_code(exc)
    if code in CREDENTIALS_REFUSED:
        return f"the credentials are expired or invalid; refresh them ({code})"
    return None


def region_of_arn(arn: str | None) -> str | None:
    """The region field of an ARN (``arn:partition:service:region:account:...``), or None."""
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    return parts[3] or None if len(parts) > 3 else None


def default_region(env: Mapping[str, str] | None = None) -> str:
    """The region a Lambda function (``AWS_REGION`` is always set there) or a test runs in.

    The command line never relies on the hard-coded fallback: it resolves the region as the AWS CLI
    does, with :func:`resolve_region`.
    """
    env = environ() if env is None else env
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


class RegionNotSetError(ValueError):
    """No region given, in the environment or in the profile: the caller must say where to work."""

    def __init__(self, profile: str | None) -> None:
        name = profile or "default"
        super().__init__(
            "no AWS region is set. Pass --region REGION, set AWS_REGION (or AWS_DEFAULT_REGION), or "
            f"give the {name} profile one: aws configure set region REGION"
            + (f" --profile {profile}" if profile else "")
        )
        self.profile = profile


def resolve_region(
    region: str | None, profile: str | None = None, env: Mapping[str, str] | None = None
) -> str:
    """The region as the AWS CLI resolves it: ``--region``, then ``AWS_REGION``, then
    ``AWS_DEFAULT_REGION``, then the ``region`` of the profile (``--profile``, else ``AWS_PROFILE``, else
    ``default``) in the AWS config files. None of them: :class:`RegionNotSetError`, never a guess.

    An unknown profile raises botocore's ``ProfileNotFound`` (said by :func:`reach_problem`).
    """
    if region:
        return region
    env = environ() if env is None else env
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if env.get(name):
            return str(env[name])
    import botocore.session  # only on the command line, where the profile matters

    session = botocore.session.Session(profile=profile or env.get("AWS_PROFILE") or None)
    configured = session.get_scoped_config().get("region")
    if configured:
        return str(configured)
    raise RegionNotSetError(profile or env.get("AWS_PROFILE") or None)


def client(
    service: str,
    region: str | None = None,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> Any:
    """A botocore client with standard retries; endpoint from the argument or ``AWS_ENDPOINT_URL``."""
    env = environ()
    region = region or default_region(env)
    endpoint_url = endpoint_url or env.get("AWS_ENDPOINT_URL") or None
    creds = (
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
        env.get("AWS_SESSION_TOKEN"),
    )
    return _client(service, region, profile, endpoint_url, creds if _ENV.get() is not None else None)


@lru_cache(maxsize=128)
def _client(
    service: str,
    region: str,
    profile: str | None,
    endpoint_url: str | None,
    creds: tuple[str | None, str | None, str | None] | None,
) -> Any:
    """One client per service, region, endpoint and credentials, made on first use.

    Every client of one set of credentials comes from one session (:func:`_session`), whatever its
    region: the session's loader parses each service's model (the bulk of a client's cost) and the
    endpoint data once, not once per region or per client. Made under one lock (a botocore session is not
    thread-safe) and kept in :data:`_MADE` as well, so threads that ask for the same new client at once
    (the init's :func:`prepare` and the first event) wait for the one being made instead of each
    making their own.
    """
    key = (service, region, profile, endpoint_url, creds)
    with _MAKING:
        made = _MADE.get(key)
        if made is None:
            made = _MADE[key] = _session(profile, creds).create_client(
                service, region_name=region, endpoint_url=endpoint_url, config=_config()
            )
        return made


_MADE: dict[tuple[Any, ...], Any] = {}


def prepare(services: Iterable[tuple[str, str | None]]) -> None:
    """Make the clients of ``(service, region)`` now (a Lambda function's init: the first event then
    makes none); those already made are kept."""
    for service, region in services:
        client(service, region)


@lru_cache(maxsize=16)
def _session(profile: str | None, creds: tuple[str | None, str | None, str | None] | None) -> Any:
    """The botocore session of a profile (its default chain: the function's role on Lambda), or of the
    credentials the local Lambda runner bound (:func:`using_environ`).

    botocore's own session, not boto3's: a boto3 client is this same botocore client (boto3 adds only
    S3's transfer methods and the resource layer, neither used here), and importing boto3 costs a cold
    start s3transfer, concurrent.futures and multiprocessing on top of botocore."""
    import botocore.session

    session = botocore.session.Session(profile=profile if creds is None else None)
    if creds is not None and any(creds):
        session.set_credentials(creds[0] or "", creds[1] or "", creds[2])
    loader = _loader(session.get_config_variable("data_path"))
    session.register_component("data_loader", loader)
    _use_kept_endpoints(session, loader)
    return session


# The services whose endpoint data the Lambda package ships (``ENDPOINTS_FILE``, written by
# :func:`kept_endpoints` when the package is built): the ones the functions call.
ENDPOINT_SERVICES = (
    "cloudformation", "cloudtrail", "dynamodb", "events", "guardduty", "iam", "kms", "lambda", "logs",
    "organizations", "s3", "securityhub", "sns", "sts",
)  # fmt: skip
ENDPOINTS_FILE = "botocore-endpoints.json"  # beside this module in the Lambda package


def kept_endpoints() -> bytes:
    """botocore's endpoint data (``endpoints.json``, every partition) with only :data:`ENDPOINT_SERVICES`
    in each partition's services, as the installed botocore has it; with that botocore's version and
    the size of the file it came from, which the runtime checks before using it (the package's build)."""
    import botocore
    from botocore.loaders import create_loader

    loader = create_loader()
    data, path = loader.load_data_with_path("endpoints")
    for partition in data["partitions"]:
        services = partition["services"]
        partition["services"] = {name: services[name] for name in ENDPOINT_SERVICES if name in services}
    found = _builtin_endpoints(loader)
    source = {"botocore": botocore.__version__, "file": os.path.basename(found[0]), "size": found[1]}
    doc = {"source": source, "services": list(ENDPOINT_SERVICES), "endpoints": data}
    assert loader.is_builtin_path(path), path
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _first_file(loader: Any, name: str) -> tuple[str, int] | None:
    """(file, size) of the data file ``name`` (``.json`` or ``.json.gz``, a path relative to botocore's
    data directories) that botocore's loader would read: the first on its search path; None if none."""
    for base in loader.search_paths:
        for suffix in (".json", ".json.gz"):
            path = os.path.join(base, name + suffix)
            if os.path.isfile(path):
                return path, os.path.getsize(path)
    return None


def _builtin_endpoints(loader: Any) -> tuple[str, int]:
    """(file, size) of the endpoint data botocore's loader would read. Raises LookupError when there is
    none."""
    found = _first_file(loader, "endpoints")
    if found is None:
        raise LookupError("no endpoints.json on the loader's search path")
    return found


def _use_kept_endpoints(session: Any, loader: Any) -> None:
    """botocore parses its whole endpoint data (1.2 MB of JSON, about 13 ms, some 8% of a cold start)
    for the first client, though a client reads only its own service's entries. The Lambda package
    ships those of the services it calls (:func:`kept_endpoints`, from the botocore that built it);
    they are used only when the runtime's botocore is that version and the file botocore would read is
    its own, of the same size; and any other service, or anything unexpected, gets botocore's own
    resolver (built on first need)."""
    shipped = os.path.join(os.path.dirname(os.path.abspath(__file__)), ENDPOINTS_FILE)
    if not os.path.isfile(shipped):
        return  # a source checkout (the CLI, tests): botocore's own
    try:
        import botocore
        from botocore.regions import EndpointResolver

        with open(shipped, "rb") as f:
            doc = json.loads(f.read())
        path, size = _builtin_endpoints(loader)
        source = doc["source"]
        if (
            source["botocore"] != botocore.__version__
            or not loader.is_builtin_path(path)
            or os.path.basename(path) != source["file"]
            or size != source["size"]
        ):
            return
        kept = frozenset(doc["services"])

        def full() -> Any:
            data, found = loader.load_data_with_path("endpoints")
            return EndpointResolver(data, uses_builtin_data=loader.is_builtin_path(found))

        resolver = _kept_resolver(EndpointResolver)(doc["endpoints"], kept, full)
        session._register_internal_component("endpoint_resolver", resolver)
    except Exception:  # a botocore that differs in any way: its own resolver, as without the file
        return


# The models the Lambda package ships (``MODELS_FILE``, written by :func:`kept_models` when the package is
# built): those of the clients a StopLogging's first event needs, made at the function's init.
MODEL_SERVICES = ("cloudtrail", "dynamodb", "kms", "sns")
MODEL_TYPES = ("service-2", "endpoint-rule-set-1")
MODELS_FILE = "botocore-models.marshal"  # beside this module in the Lambda package
_MARSHAL_FORMAT = 2  # no back-references: the bytes do not depend on the building process


def kept_models() -> bytes:
    """The models of :data:`MODEL_SERVICES` (:data:`MODEL_TYPES`) as the installed botocore loads them,
    in ``marshal`` form (about a tenth of the time botocore takes to decompress and parse their JSON at
    a cold start), each with the API version, file name and size it came from, and the botocore, Python
    and marshal versions that wrote them: the runtime uses one only when all of these match
    (:func:`_shipped_model`). A model botocore extends with extras files is not shipped."""
    import marshal
    import sys

    import botocore
    from botocore.loaders import create_loader

    loader = create_loader()
    models: dict[str, Any] = {}
    for service in MODEL_SERVICES:
        for type_name in MODEL_TYPES:
            api_version = loader.determine_latest_version(service, type_name)
            found = _model_file(loader, service, type_name, api_version)
            if (
                found is None
                or not loader.is_builtin_path(found[0])
                or _has_extras(loader, service, type_name, api_version)
            ):
                continue
            data = json.loads(json.dumps(loader.load_service_model(service, type_name, api_version)))
            name, size = os.path.basename(found[0]), found[1]
            models[f"{service}/{type_name}"] = {
                "api_version": api_version,
                "file": name,
                "size": size,
                "data": data,
            }
    source = {
        "botocore": botocore.__version__,
        "python": list(sys.version_info[:2]),
        "marshal": marshal.version,
    }
    # two marshal values: the source first, so a runtime that differs reads only it
    return marshal.dumps(source, _MARSHAL_FORMAT) + marshal.dumps(models, _MARSHAL_FORMAT)


def _model_file(loader: Any, service: str, type_name: str, api_version: str) -> tuple[str, int] | None:
    """(file, size) of the model botocore's loader would read (the first on its search path), or None."""
    return _first_file(loader, os.path.join(service, api_version, type_name))


def _has_extras(loader: Any, service: str, type_name: str, api_version: str) -> bool:
    """Whether botocore would merge an extras file (``service-2.sdk-extras.json``) into the model."""
    return any(
        _model_file(loader, service, f"{type_name}.{extras}-extras", api_version) is not None
        for extras in loader.extras_types
    )


_SHIPPED: dict[str, Any] = {}
_SHIPPED_LOCK = threading.Lock()


def _shipped_models() -> dict[str, Any]:
    """The package's models (:func:`kept_models`), read once; empty when there are none or they were
    written by another botocore, Python or marshal (or cannot be read)."""
    with _SHIPPED_LOCK:
        if "models" not in _SHIPPED:
            _SHIPPED["models"] = {}
            path = os.path.join(os.path.dirname(os.path.abspath(__file__)), MODELS_FILE)
            if os.path.isfile(path):
                try:
                    import marshal
                    import sys

                    import botocore

                    with open(path, "rb") as f:
                        source = marshal.load(f)
                        if (
                            source["botocore"] == botocore.__version__
                            and source["python"] == list(sys.version_info[:2])
                            and source["marshal"] == marshal.version
                        ):
                            _SHIPPED["models"] = dict(marshal.load(f))
                except Exception:  # unreadable: botocore's own files, as without it
                    _SHIPPED["models"] = {}
        models: dict[str, Any] = _SHIPPED["models"]
        return models


def _shipped_model(loader: Any, service: str, type_name: str, api_version: str | None) -> Any:
    """The package's copy of a model when it is exactly what botocore would load: the same API version
    (the latest, when none is asked for), the file botocore would read is its own with the recorded name
    and size, and no extras file would be merged into it. None otherwise (botocore loads it)."""
    kept = _shipped_models().get(f"{service}/{type_name}")
    if kept is None:
        return None
    try:
        if api_version is None:
            api_version = loader.determine_latest_version(service, type_name)
        if api_version != kept["api_version"]:
            return None
        found = _model_file(loader, service, type_name, api_version)
        if (
            found is None
            or not loader.is_builtin_path(found[0])
            or os.path.basename(found[0]) != kept["file"]
            or found[1] != kept["size"]
            or _has_extras(loader, service, type_name, api_version)
        ):
            return None
    except Exception:  # a loader that differs: botocore's own loading
        return None
    return kept["data"]


def _kept_resolver(base: Any) -> Any:
    """An ``EndpointResolver`` over the kept services' data: the partitions' own answers (regions, DNS
    suffixes) from it, a kept service's endpoints from it, any other service's from botocore's full
    resolver."""

    class KeptServicesResolver(base):  # type: ignore[misc]
        def __init__(self, data: Any, kept: frozenset[str], full: Any) -> None:
            super().__init__(data, uses_builtin_data=True)
            self._kept = kept
            self._make_full = full
            self._full: Any = None

        def _other(self) -> Any:
            if self._full is None:
                self._full = self._make_full()
            return self._full

        def get_service_endpoints_data(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
            if service_name in self._kept:
                return super().get_service_endpoints_data(service_name, *args, **kwargs)
            return self._other().get_service_endpoints_data(service_name, *args, **kwargs)

        def get_available_endpoints(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
            if service_name in self._kept:
                return super().get_available_endpoints(service_name, *args, **kwargs)
            return self._other().get_available_endpoints(service_name, *args, **kwargs)

        def construct_endpoint(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
            if service_name in self._kept:
                return super().construct_endpoint(service_name, *args, **kwargs)
            return self._other().construct_endpoint(service_name, *args, **kwargs)

    return KeptServicesResolver


def _loader(data_path: str | None) -> Any:
    """botocore's data loader as ``botocore.loaders.create_loader`` makes it (``AWS_DATA_PATH`` first),
    except in one respect: before loading a service's model botocore checks that the service exists by
    listing every service directory on its search path (some 450, each listed, twice per client: the
    model and its endpoint rules; about a fifth of a cold client's making). Here that check looks in the
    directory of the service asked for only, with the same test (a version directory holding the file),
    so the same services exist and the same error is raised for one that does not; anything that wants
    the whole list still gets the full scan."""
    from botocore.loaders import Loader

    class ServiceLoader(Loader):
        def list_available_services(self, type_name: str) -> Any:
            return _Services(self, type_name)

        def load_service_model(
            self, service_name: str, type_name: str, api_version: str | None = None
        ) -> Any:
            shipped = _shipped_model(self, service_name, type_name, api_version)
            if shipped is not None:
                return shipped
            return super().load_service_model(service_name, type_name, api_version)

    if not data_path:
        return ServiceLoader()
    paths = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)]
    return ServiceLoader(extra_search_paths=paths)


class _Services(Sequence[str]):
    """A loader's services of one type: membership is one service's directory looked at; iterating,
    indexing or counting lists them all, as botocore does."""

    def __init__(self, loader: Any, type_name: str) -> None:
        self._loader = loader
        self._type = type_name
        self._all: list[str] | None = None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
            return False
        try:
            return self._in_own_directory(name)
        except Exception:  # a botocore whose loader differs (the runtime's, not ours): its own full scan
            return name in self._listed()

    def _in_own_directory(self, name: str) -> bool:
        for base in self._loader.search_paths:
            folder = os.path.join(base, name)
            if not os.path.isdir(folder):
                continue
            for version in os.listdir(folder):
                if self._loader.file_loader.exists(os.path.join(folder, version, self._type)):
                    return True
        return False

    def _listed(self) -> list[str]:
        if self._all is None:
            from botocore.loaders import Loader

            self._all = list(Loader.list_available_services(self._loader, self._type))
        return self._all

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._listed()[index]

    def __len__(self) -> int:
        return len(self._listed())


@lru_cache(maxsize=1)
def _config() -> Any:
    from botocore.config import Config

    return Config(retries=RETRY_CONFIG, user_agent_extra="trailguard")  # type: ignore[arg-type]


def clear_cache() -> None:
    """Forget cached clients (tests that switch moto backends or credentials call this)."""
    with _MAKING:
        _client.cache_clear()
        _MADE.clear()
        _session.cache_clear()
    _config.cache_clear()
