"""The red team's advanced-selector attacks of issue 10 (data events only; kms and rdsdata excluded; read
events only): one definition for the unit tests on moto and the end-to-end tests on the local cloud."""

from __future__ import annotations

from typing import Any

_MANAGEMENT: dict[str, Any] = {"Field": "eventCategory", "Equals": ["Management"]}
RED_TEAM_SELECTORS: dict[str, list[dict[str, Any]]] = {
    "data-only": [
        {
            "Name": "data",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ],
        }
    ],
    "exclude-kms-rdsdata": [
        {
            "Name": "no-kms",
            "FieldSelectors": [
                _MANAGEMENT,
                {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com", "rdsdata.amazonaws.com"]},
            ],
        }
    ],
    "read-only": [
        {"Name": "reads", "FieldSelectors": [_MANAGEMENT, {"Field": "readOnly", "Equals": ["true"]}]}
    ],
}
