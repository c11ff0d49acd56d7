"""The control-test contract itself (safeward/compliance.py, ADR 0900/0920):
what a declaration must say, and what it is refused for."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from safeward import compliance
from safeward.compliance import Check, ControlDeclarationError, control

MAPS = ("hipaa:164.312(d)",)


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch):
    """Declarations made here never reach the real registry."""
    monkeypatch.setattr(compliance, "_REGISTRY", {})


def _declare(control_id: str = "identity.example", maps=MAPS, name: str = "example"):
    def example(now: dt.datetime):
        yield Check("account", "1", "alice", passed=True, evidence={"n": 1})

    example.__qualname__ = name
    return control(control_id, title="Example", maps=maps)(example)


@pytest.mark.parametrize(
    "bad_id",
    ["identity", "Identity.mfa", "identity.MFA", "identity.mfa-on", ".mfa", "identity.", "a.b.c", ""],
)
def test_bad_ids_are_refused(bad_id):
    with pytest.raises(ControlDeclarationError, match=r"is not '<app>\.<name>'"):
        _declare(bad_id)


def test_a_control_without_maps_is_refused():
    with pytest.raises(ControlDeclarationError, match="maps to no catalog entry"):
        _declare(maps=())


@pytest.mark.parametrize("ref", ["nist:AC-2", "hipaa", "164.312(d)", "hipaa: 164.312(d)", "HIPAA:164.312(d)"])
def test_unknown_frameworks_and_malformed_refs_are_refused(ref):
    with pytest.raises(ControlDeclarationError, match="framework"):
        _declare(maps=(*MAPS, ref))


def test_every_framework_key_is_accepted():
    _declare(maps=tuple(f"{key}:X.1" for key in compliance.FRAMEWORKS))
    assert set(compliance._REGISTRY["identity.example"].maps) == {f"{k}:X.1" for k in compliance.FRAMEWORKS}


def test_a_second_declaration_of_an_id_is_refused():
    _declare(name="first")
    with pytest.raises(ControlDeclarationError, match="declared twice"):
        _declare(name="second")


def test_redeclaring_the_same_function_is_not_a_duplicate():
    """A module imported again (autoreload, a test importing it) declares the same function."""
    _declare(name="same")
    _declare(name="same")
    assert list(compliance._REGISTRY) == ["identity.example"]


def test_a_declaration_keeps_its_parts_and_runs():
    _declare()
    test = compliance._REGISTRY["identity.example"]
    assert test.app == "identity"
    assert test.title == "Example"
    assert test.maps == MAPS
    checks = test.run(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert checks == [Check("account", "1", "alice", passed=True, evidence={"n": 1})]
    with pytest.raises(dataclasses.FrozenInstanceError):
        checks[0].passed = False


def test_the_description_comes_from_the_docstring():
    def documented(now: dt.datetime):
        """Proves something."""
        return []

    control("identity.documented", title="Documented", maps=MAPS)(documented)
    assert compliance._REGISTRY["identity.documented"].description == "Proves something."


@pytest.mark.django_db
def test_discover_finds_the_apps_controls(monkeypatch):
    monkeypatch.setattr(compliance, "_REGISTRY", {})
    import importlib

    import safeward.identity.controls as module

    importlib.reload(module)  # the declarations run again into the empty registry
    found = compliance.discover()
    assert "identity.mfa_on_active_accounts" in found
    assert all(control_id.split(".")[0] == test.app for control_id, test in found.items())
