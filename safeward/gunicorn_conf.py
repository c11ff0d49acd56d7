"""gunicorn settings that follow SafeWard's own configuration: `gunicorn -c
python:safeward.gunicorn_conf ...` (the demo server passes it; production
should too, docs/operations.md).

* Forwarded headers: gunicorn believes `X-Forwarded-Proto` (and its other
  secure-scheme headers) from `forwarded_allow_ips`, which defaults to
  loopback. SafeWard believes forwarded headers only from
  SAFEWARD_TRUSTED_PROXIES, so gunicorn gets exactly that list: empty means
  nobody (ADR 0305).
* TLS, when gunicorn terminates it: TLS 1.2 with ECDHE and AEAD suites only
  (AES-GCM, ChaCha20-Poly1305), and TLS 1.3. No CBC suite, so nothing for
  LUCKY13-style padding-oracle timing (ADR 0305)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from safeward.config import env

# Mozilla's "intermediate" TLS 1.2 list without the finite-field DHE suites:
# forward secrecy and authenticated encryption only, for ECDSA and RSA keys.
# TLS 1.3 suites are all AEAD and are not affected by this list.
TLS12_AEAD_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)


def trusted_proxies() -> str:
    """SAFEWARD_TRUSTED_PROXIES in gunicorn's format (comma-separated networks)."""
    return ",".join(str(network) for network in env.networks("SAFEWARD_TRUSTED_PROXIES"))


def hardened(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_AEAD_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return context


forwarded_allow_ips = trusted_proxies()


def ssl_context(config: Any, default_ssl_context_factory: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """gunicorn's hook for the server's TLS context."""
    return hardened(default_ssl_context_factory())
