"""The static index the first event reads (``techniques.CALL_FAMILIES``: each call to the families that
judge it) is the registry's own, so a lazily imported family can never miss a technique; and a lookup
through it gives what the whole registry gives, in the same order.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from trailguard import resources
from trailguard.policy import techniques


def _registry_index() -> dict[tuple[str, str], tuple[str, ...]]:
    family_of = {
        t.id: name for name in techniques._family_names() for t in techniques.family(name)
    }  # every family module, as the registry discovers them
    return {
        key: tuple(dict.fromkeys(family_of[t.id] for t in found))
        for key, found in techniques.CALL_INDEX.items()
    }


def test_the_static_index_equals_the_registrys() -> None:
    expected = _registry_index()
    assert dict(techniques.CALL_FAMILIES) == expected, "CALL_FAMILIES is stale: set it to\n" + "\n".join(
        f"    {k!r}: {v!r}," for k, v in sorted(expected.items())
    )


def test_a_lookup_through_the_index_gives_the_registrys_techniques() -> None:
    for (source, name), found in techniques.CALL_INDEX.items():
        assert techniques.techniques_for_call(source, name) == found, (source, name)
    assert techniques.techniques_for_call("cloudtrail.amazonaws.com", "DescribeTrails") == ()
    assert techniques.techniques_for_call(None, "StopLogging") == ()


def test_a_stoplogging_lookup_imports_its_family_only() -> None:
    """In a fresh interpreter: judging a StopLogging imports the trail family, none of the others, and
    no other family's actions; the registry is built only when asked for."""
    probe = (
        "import json, sys\n"
        "from trailguard.policy import techniques\n"
        "found = techniques.technique_for_call('cloudtrail.amazonaws.com', 'StopLogging')\n"
        "print(json.dumps([found.id, sorted(m for m in sys.modules if m.startswith('trailguard.'))]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    found, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == "trail.stop-logging"
    families = {m.rsplit(".", 1)[-1] for m in modules if m.startswith("trailguard.policy.techniques.")}
    assert families == {"_common", "trail"}
    actions = {m.rsplit(".", 1)[-1] for m in modules if m.startswith("trailguard.remediate.")}
    assert "bucket" not in actions and "guardduty" not in actions, actions


def test_the_static_baseline_kinds_equal_the_models() -> None:
    kinds = resources.KINDS.values()
    ordered = sorted((k for k in kinds if k.baseline_order is not None), key=lambda k: k.baseline_order or 0)
    assert tuple(k.name for k in ordered) == resources.BASELINE_KINDS


def test_each_kind_is_found_by_name_from_its_own_module() -> None:
    """``resources.kind(name)`` imports ``resources/<name>.py`` only: each kind lives in the module of its
    name (else the lookup would fall back on discovering them all)."""
    for name, found in resources.KINDS.items():
        assert found.__class__ is resources.Kind
        module = sys.modules[f"trailguard.resources.{name}"]
        assert module.KIND is found
        assert resources.kind(name) is found and resources.find(name) is found
    assert resources.find("no-such-kind") is None and resources.find(None) is None
    assert resources.find("base") is None
    with pytest.raises(ValueError, match="unknown resource kind"):
        resources.kind("no-such-kind")
