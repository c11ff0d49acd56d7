"""The password hasher of the test suite: SafeWard's argon2id at argon2's
smallest cost. The production parameters (m=64 MiB, t=3) cost about a second
per hash on the shared CI machine, paid on every sign-in through the login
form; tests/identity/test_passwords.py checks the production hasher itself
(ADR 1602)."""

from safeward.identity.hashers import SafeWardArgon2PasswordHasher


class CheapArgon2PasswordHasher(SafeWardArgon2PasswordHasher):
    time_cost = 1
    memory_cost = 8  # KiB: argon2's minimum for one lane
    parallelism = 1
