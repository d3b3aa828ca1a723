"""IAM actions the runtime needs beyond the techniques' own remediation and verification permissions.

The template grants exactly ``trailguard.policy.required_permissions()`` (techniques' permissions | these),
so only what the code really calls is listed here.
"""

from __future__ import annotations

RUNTIME_PERMISSIONS: frozenset[str] = frozenset(
    {
        "cloudtrail:DescribeTrails",  # inventory.load: the live trail list, every invocation
        "sns:Publish",  # notify.publish: the alert
        # securityhub.report: an incident from CloudTrail is imported as a finding beside GuardDuty's;
        # one raised by a Security Hub finding is answered on that finding (workflow status and note)
        "securityhub:BatchImportFindings",
        "securityhub:BatchUpdateFindings",
        # state.StateStore on the stack's StateTable: baselines, incidents, counters
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        # resources.trail capture (allow-listed change): the trail's full configuration
        "cloudtrail:GetEventSelectors",
        "cloudtrail:GetInsightSelectors",
        "cloudtrail:ListTags",
        "cloudtrail:GetTrailStatus",
        # resources.store capture: CloudTrail Lake event data stores
        "cloudtrail:ListEventDataStores",
        "cloudtrail:GetEventDataStore",
        # resources.bucket capture: the trail bucket's region, policy, lifecycle, versioning, encryption
        "s3:GetBucketLocation",
        "s3:GetBucketPolicy",
        "s3:GetLifecycleConfiguration",
        "s3:GetBucketVersioning",
        "s3:GetEncryptionConfiguration",
        # resources.key capture: the trail key's state, aliases and key policy
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:ListAliases",
        # resources.rule capture: trailguard's own rules and their targets
        "events:DescribeRule",
        "events:ListTargetsByRule",
        # resources.function capture: trailguard's own functions
        "lambda:GetFunction",
        "lambda:GetFunctionConcurrency",
        "lambda:GetPolicy",
        # resources.topic capture: the alert topic and its subscriptions
        "sns:GetTopicAttributes",
        "sns:ListSubscriptionsByTopic",
        # integrity.Mac: sign and verify state records with the stack's StateKey (its key policy is what
        # limits signing to the role and the deployer)
        "kms:GenerateMac",
        "kms:VerifyMac",
        # history.confirm: an allow-listed event is confirmed in CloudTrail's event history first
        "cloudtrail:LookupEvents",
    }
)

# IAM actions whose API has no resource-level permissions: granted on "*", each with the reason.
NO_RESOURCE_LEVEL: dict[str, str] = {
    "cloudtrail:DescribeTrails": "DescribeTrails lists every trail and takes no resource",
    "cloudtrail:ListEventDataStores": "a listing: no resource-level permissions",
    "kms:ListAliases": "a listing: no resource-level permissions",
    "cloudtrail:LookupEvents": "event history lookups take no resource",
    "guardduty:CreateDetector": "a detector to create has no ARN yet",
    "guardduty:ListDetectors": "a listing: no resource-level permissions",
    # the organization's repairs (remediate/org.py): organization-wide calls that take no resource
    "organizations:EnableAWSServiceAccess": "organization-wide",
    "organizations:ListAWSServiceAccessForOrganization": "a listing",
    "organizations:ListDelegatedAdministrators": "a listing",
    "organizations:ListPolicies": "a listing",
    "organizations:CreatePolicy": "no ARN yet",
    "cloudtrail:RegisterOrganizationDelegatedAdmin": "takes an account id",
}

# Where the runtime's permissions on what is not a protected resource kind are scoped (CloudFormation
# !Sub strings): fnmatch pattern -> (statement id, resources); the most specific pattern wins.
RUNTIME_RESOURCES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "securityhub:*": (
        "SecurityHub",
        ("arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:hub/default",),
        "The account's hub. BatchUpdateFindings is authorised on the hub (the findings it updates have "
        "no ARN of their own in IAM).",
    ),
    "securityhub:BatchImportFindings": (
        "SecurityHubFindings",
        ("arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product/${AWS::AccountId}/default",),
        "BatchImportFindings on the account's own product.",
    ),
    # the generator writes ${StateTable.Arn} as !GetAtt StateTable.Arn
    "dynamodb:*": (
        "StateTable",
        ("${StateTable.Arn}",),
        "trailguard.state: the stack's state table (baselines, incidents, counters).",
    ),
}
