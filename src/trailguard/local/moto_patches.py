"""The local cloud's stand-ins for moto gaps beyond ``BatchUpdateFindings``, installed and removed as one.

Each module patches one service while a :class:`~trailguard.local.server.LocalCloud` runs and documents
the gap it fills (docs/local-cloud.md, "Known moto gaps"):

- :mod:`trailguard.local.cloudtrail_patch`: classic and advanced event selectors replace each other;
- :mod:`trailguard.local.guardduty_patch`: ``ListFilters``;
- :mod:`trailguard.local.securityhub_config_patch`: product integrations (``Enable``/``Disable``
  ``ImportFindingsForProduct``, ``ListEnabledProductsForImport``) and automation rules.
"""

from __future__ import annotations

from trailguard.local import cloudtrail_patch, guardduty_patch, securityhub_config_patch

_MODULES = (cloudtrail_patch, guardduty_patch, securityhub_config_patch)


def install() -> None:
    """Install every patch (before the server builds its app: some add routes)."""
    for module in _MODULES:
        module.install()  # each returns whether it patched; moto may have caught up


def uninstall() -> None:
    """Remove every patch, leaving moto as found."""
    for module in reversed(_MODULES):
        module.uninstall()
