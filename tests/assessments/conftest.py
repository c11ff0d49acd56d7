"""A small catalog and a registry of control tests over a mutable "world",
so the runner, the scoring and the reports are tested on known results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from safeward.audit import signing
from safeward.compliance import Check, ControlTest


@dataclass(frozen=True)
class Entry:
    framework: str
    id: str
    title: str
    kind: str
    parent: str | None

    @property
    def ref(self) -> str:
        return f"{self.framework}:{self.id}"


@dataclass(frozen=True)
class Mapping:
    source: str
    target: str
    provenance: str


@dataclass
class Framework:
    key: str
    name: str
    version: str
    entries: list[Entry]

    def clauses(self) -> list[Entry]:
        return [e for e in self.entries if e.parent is None]

    def leaves(self) -> list[Entry]:
        parents = {e.parent for e in self.entries}
        return [e for e in self.entries if e.id not in parents]

    def clause_of(self, ref: str) -> Entry:
        by_id = {e.id: e for e in self.entries}
        entry = by_id[ref.split(":", 1)[1]]
        while entry.parent is not None:
            entry = by_id[entry.parent]
        return entry


@dataclass
class Catalog:
    frameworks: dict[str, Framework]
    mappings: list[Mapping] = field(default_factory=list)

    def entry(self, ref: str) -> Entry:
        key, _ = ref.split(":", 1)
        return next(e for e in self.frameworks[key].entries if e.ref == ref)

    def exists(self, ref: str) -> bool:
        try:
            self.entry(ref)
        except (KeyError, StopIteration):
            return False
        return True


def _framework(key: str, name: str, rows: list[tuple[str, str, str | None]]) -> Framework:
    return Framework(key, name, "test", [Entry(key, i, t, "x", p) for i, t, p in rows])


def small_catalog() -> Catalog:
    hicp = _framework(
        "hicp",
        "HICP (test)",
        [
            ("3", "Access management", None),
            ("3.M.A", "Identity", "3"),
            ("3.M.B", "Provisioning", "3"),
            ("4", "Data protection", None),
            ("4.M.A", "Classification", "4"),
            ("4.M.B", "Encryption", "4"),
        ],
    )
    csf = _framework(
        "csf2",
        "CSF (test)",
        [
            ("PR", "Protect", None),
            ("PR.AA", "Identity", "PR"),
            ("PR.AA-01", "Identities", "PR.AA"),
            ("PR.DS-01", "Data at rest", "PR"),
        ],
    )
    return Catalog(
        {"hicp": hicp, "csf2": csf},
        [Mapping("hicp:4.M.B", "csf2:PR.DS-01", "HICP Technical Volume 1, 4.M.B cites PR.DS-01")],
    )


@dataclass
class World:
    """What the fake control tests read: accounts with or without MFA, keys."""

    accounts: dict[str, bool] = field(default_factory=lambda: {"1": True, "2": False})
    keys_ok: bool = True
    explode: bool = False


def registry(world: World) -> dict[str, ControlTest]:
    def mfa(now: Any) -> Iterator[Check]:
        for pk, has in sorted(world.accounts.items()):
            yield Check("account", pk, f"user{pk}", passed=has, evidence={"mfa": has, "at": now})

    def keys(now: Any) -> Iterator[Check]:
        yield Check("key", "k1", "patient-fields", passed=world.keys_ok, evidence={"age_days": 10})

    def broken(now: Any) -> Iterator[Check]:
        if world.explode:
            raise ValueError("patient Jane Doe MRN 123 broke it")
        return iter(())

    return {
        "identity.mfa": ControlTest("identity.mfa", "MFA", "", ("hicp:3.M.A", "csf2:PR.AA-01"), mfa),
        "crypto.keys": ControlTest("crypto.keys", "Keys rotated", "", ("hicp:4.M.B",), keys),
        "audit.broken": ControlTest("audit.broken", "Sometimes broken", "", ("hicp:4.M.A",), broken),
    }


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def tests_registry(world: World) -> dict[str, ControlTest]:
    return registry(world)


@pytest.fixture
def cat() -> Catalog:
    return small_catalog()


@pytest.fixture(autouse=True)
def seal_key(settings, tmp_path):
    """Each test signs with its own local key."""
    settings.SAFEWARD_AUDIT_SEAL_KEY_FILE = tmp_path / "keys" / "audit-seal.pem"
    local = signing.LocalEd25519Signer(tmp_path / "keys" / "seal.pem", create=True)
    previous = signing.install(local)
    yield local
    signing.install(previous)


@pytest.fixture
def registered(monkeypatch, tests_registry):
    """The fake tests are what `discover()` finds (the pages, API and CLI run them)."""
    monkeypatch.setattr("safeward.assessments.services.discover", lambda: dict(tests_registry))
    return tests_registry
