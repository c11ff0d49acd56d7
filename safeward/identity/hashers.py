"""argon2id with parameters above OWASP's minimum (m=19 MiB, t=2, p=1):
SafeWard uses m=64 MiB, t=3, p=1 (bench/login.py measures the cost)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class SafeWardArgon2PasswordHasher(Argon2PasswordHasher):
    algorithm = "argon2"
    time_cost = 3
    memory_cost = 65536
    parallelism = 1
