"""Fixtures every test area may use."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest

import corpus
from aws_support import REGION, Account, Alerts, Cloud, fake_credentials, in_moto
from trailguard import aws, remediate
from trailguard.policy import Verdict
from trailguard.remediate import Context, Outcome
from trailguard.state import StateStore
from worlds import ConfiguredTrail, Deployed, RepairStack

EVENTS_DIR: Path = corpus.EVENTS
TEMPLATE = Path(__file__).resolve().parents[1] / "src" / "trailguard" / "data" / "trailguard.yaml"


class _SharedLoader(botocore.loaders.Loader):
    """A loader whose parsed files every session shares, except S3's service model: botocore rewrites
    its request URIs in place for each client (``remove_bucket_from_url_paths_from_model``), and the
    local cloud routes S3 requests by the pristine ones, so each caller gets its own copy."""

    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = super().load_service_model(service_name, type_name, api_version)
        return copy.deepcopy(model) if (service_name, type_name) == ("s3", "service-2") else model


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_loader() -> Iterator[None]:
    """One botocore data loader for every session the tests make. ``trailguard.aws`` makes a new boto3
    session per bound environment (and its cache is cleared between tests), and each new session's
    loader re-parses ``endpoints.json`` and the service models: most of the moto tests' time. The files
    are read-only data, so sharing the parsed copies changes nothing but speed. trailguard's sessions
    register their own loader (``aws._loader``), shared the same way."""
    real = botocore.session.create_loader
    loaders: dict[Any, botocore.loaders.Loader] = {}

    def create_loader(search_path_string: Any = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loader = real(search_path_string)
            loader.__class__ = _SharedLoader
            loaders[search_path_string] = loader
        return loaders[search_path_string]

    made = aws._loader
    ours: dict[Any, botocore.loaders.Loader] = {}

    def service_loader(data_path: str | None) -> Any:  # trailguard's sessions register their own
        if data_path not in ours:
            loader = made(data_path)
            loader.__class__ = type("SharedServiceLoader", (type(loader), _SharedLoader), {})
            ours[data_path] = loader
        return ours[data_path]

    botocore.session.create_loader = create_loader
    aws._loader = service_loader
    try:
        yield
    finally:
        botocore.session.create_loader = real
        aws._loader = made


@pytest.fixture(scope="session")
def events_dir() -> Path:
    """``tests/data/events``: the real records and their ``MANIFEST.tsv``."""
    return EVENTS_DIR


# ------------------------------------------------------------------------- moto in-process


@pytest.fixture
def aws_region() -> str:
    """The region the moto fixtures work in; a test area overrides it (``tests/remediate``)."""
    return REGION


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch, aws_region: str) -> Iterator[dict[str, str]]:
    """Fake credentials, moto in-process, no cached clients, and remediation that verifies without
    waiting; yields the credentials (with ``AWS_DEFAULT_REGION``)."""
    creds = fake_credentials(monkeypatch, aws_region)
    monkeypatch.setattr(remediate.base, "VERIFY_DELAY", 0.0)
    with in_moto():
        yield creds


@pytest.fixture
def account(moto_aws: dict[str, str], aws_region: str) -> Account:
    """THE moto fixture: moto running with fake credentials, as an :class:`aws_support.Account` a test
    (or a world below) adds its pieces to: topic, table, buckets, keys, trails, the deployed stack."""
    return Account(dict(moto_aws), aws_region)


@pytest.fixture
def alerts(account: Account) -> Alerts:
    """The alert topic with an SQS queue subscribed to read what it publishes."""
    return account.alerts


@pytest.fixture
def moto_env(moto_aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, aws_region: str) -> None:
    """``moto_aws`` with ``AWS_REGION`` set too, as in a Lambda function."""
    monkeypatch.setenv("AWS_REGION", aws_region)


@pytest.fixture
def store(account: Account) -> StateStore:
    """The stack's state table, empty."""
    return StateStore(account.state_table(), account.region)


@pytest.fixture
def cloud(account: Account) -> Cloud:
    """Trails made per region on demand and the alert topic; the handler tests' environment."""
    env = account.env(
        TRAILGUARD_RULE_NAMES="trailguard-api-calls,trailguard-findings",
        TRAILGUARD_FUNCTION_NAMES="trailguard-api-call,trailguard-finding",
    )
    return Cloud(alerts=account.alerts, env=env)


@pytest.fixture
def unrecorded(account: Account) -> ConfiguredTrail:
    """The fully configured trail and its resources, no baseline recorded yet."""
    return ConfiguredTrail.build(account)


@pytest.fixture
def world(unrecorded: ConfiguredTrail) -> ConfiguredTrail:
    """The same account with its baselines recorded (as ``trailguard deploy`` does)."""
    summary = unrecorded.record_baselines()
    assert summary.ok, summary.errors
    assert summary.recorded["trail"] == [unrecorded.trail_arn]
    return unrecorded


@pytest.fixture
def stack(account: Account, monkeypatch: pytest.MonkeyPatch) -> RepairStack:
    """The repair stack (``us-west-2``: ``tests/remediate`` sets ``aws_region``), its baselines
    recorded; every action outcome the handler produces is kept in ``stack.outcomes``."""
    made = RepairStack.build(account)
    real = remediate.remediate

    def recording(ctx: Context, verdict: Verdict) -> Outcome:
        outcome = real(ctx, verdict)
        made.outcomes.append(outcome)
        return outcome

    monkeypatch.setattr(remediate, "remediate", recording)
    return made


@pytest.fixture
def deployed(account: Account, moto_env: None) -> Deployed:
    """The real stack deployed next to a protected trail, baselines recorded by ``deploy``."""
    return Deployed.build(account)


# ------------------------------------------------------------------------------------ the template


@pytest.fixture(scope="session")
def template_path() -> Path:
    """The committed template (not :func:`trailguard.deploy.template_source`, which is under test)."""
    return TEMPLATE


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The template as CloudFormation reads it (intrinsic tags become Fn:: mappings)."""
    from cfnlint.decode import decode_str

    decoded, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches, [str(m) for m in matches]
    assert decoded is not None
    return dict(decoded)


@pytest.fixture(scope="session")
def rule_pattern(template: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    """``rule_pattern("ApiCallRule")``: the rule's EventPattern as plain JSON, as EventBridge receives it."""

    def get(logical_id: str) -> dict[str, Any]:
        pattern: dict[str, Any] = json.loads(
            json.dumps(template["Resources"][logical_id]["Properties"]["EventPattern"])
        )
        return pattern

    return get


@pytest.fixture(scope="session", autouse=True)
def kms_cloudformation_key_spec() -> Iterator[None]:
    """moto's CloudFormation ``AWS::KMS::Key`` ignores ``KeySpec``/``KeyUsage``; the stack's state key is
    an HMAC key, so in-process deploys get the same fix the local cloud installs (``local.kms_patch``)."""
    from trailguard.local import kms_patch

    kms_patch.install()
    try:
        yield
    finally:
        kms_patch.uninstall()
