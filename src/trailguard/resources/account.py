"""The AWS account itself (leaving the organization takes the organization trail with it)."""

from __future__ import annotations

from trailguard.resources.base import Kind

KIND = Kind(name="account", noun="account", sweep_order=90)
