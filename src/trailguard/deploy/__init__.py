"""Package the Lambda code and deploy the stack through a CloudFormation change set.

One module per job: :mod:`~trailguard.deploy.package` (the Lambda zip), :mod:`~trailguard.deploy.artifacts`
(the artifact bucket and upload), :mod:`~trailguard.deploy.stack` (the public stack lookup every
``--stack-name`` command uses; change set create, wait, execute, events, outputs, failure messages),
:mod:`~trailguard.deploy.rollout` (``deploy`` itself, which orders them and records baselines) and
:mod:`~trailguard.deploy.errors` (what a failure tells a person). This package never goes into the
Lambda zip. The names below are re-exported so ``from trailguard.deploy import deploy`` keeps working.
"""

from __future__ import annotations

from trailguard.deploy.artifacts import artifact_bucket_name, ensure_artifact_bucket, upload_code
from trailguard.deploy.errors import DeployError, InputError, StackNotFoundError
from trailguard.deploy.package import (
    EXCLUDED_FILES,
    EXCLUDED_SUBPACKAGES,
    PACKAGE_DIR,
    ZIP_EPOCH,
    Package,
    build_zip,
    package,
    template_source,
)
from trailguard.deploy.rollout import (
    EMAIL_RE,
    TEMPLATE_BODY_LIMIT,
    Rollout,
    apply,
    deploy,
    record_baseline,
    validate_email,
)
from trailguard.deploy.stack import (
    CAPABILITIES,
    MAX_STACK_NAME,
    OUTPUT_SOURCES,
    StackInfo,
    lookup,
    validate_stack_name,
)

__all__ = [
    "CAPABILITIES",
    "EMAIL_RE",
    "EXCLUDED_FILES",
    "EXCLUDED_SUBPACKAGES",
    "MAX_STACK_NAME",
    "OUTPUT_SOURCES",
    "PACKAGE_DIR",
    "TEMPLATE_BODY_LIMIT",
    "ZIP_EPOCH",
    "DeployError",
    "InputError",
    "Package",
    "Rollout",
    "StackInfo",
    "StackNotFoundError",
    "apply",
    "artifact_bucket_name",
    "build_zip",
    "deploy",
    "ensure_artifact_bucket",
    "lookup",
    "package",
    "record_baseline",
    "template_source",
    "upload_code",
    "validate_email",
    "validate_stack_name",
]
