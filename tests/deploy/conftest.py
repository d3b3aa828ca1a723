"""The deploy tests' stack name; the template fixtures and the moto account are tests/conftest.py's."""

from __future__ import annotations

STACK = "tg-test"
