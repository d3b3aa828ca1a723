"""IAM actions the runtime needs beyond the techniques' own remediation and verification permissions.

The template grants exactly ``trailguard.policy.required_permissions()`` (techniques' permissions | these),
so only what the code really calls is listed here.
"""

from __future__ import annotations

RUNTIME_PERMISSIONS: frozenset[str] = frozenset(
    {
        "cloudtrail:DescribeTrails",  # inventory.load: the live trail list, every invocation
        "sns:Publish",  # notify.publish: the alert
    }
)
