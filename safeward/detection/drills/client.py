"""A small web client that plays an attacker against a running SafeWard over
HTTP(S): the same pages a browser uses (allauth's sign-in with the TOTP
step, the chart, the break-glass dialog), with a cookie jar, CSRF tokens and
no automatic redirects, so each step sees exactly what the server answered.

Standard library only (urllib): the drill runs next to the server and needs
no extra package. TLS is verified; the demo's self-signed certificate is
trusted with `cafile` (var/tls/cert.pem) or, for the demo only, `insecure`.
"""

from __future__ import annotations

import http.cookiejar
import ipaddress
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

LOGIN_PATH = "/accounts/login/"
MFA_PATH = "/accounts/2fa/authenticate/"
REAUTH_PATH = "/accounts/2fa/reauthenticate/"
USER_AGENT = "SafeWard-drill/1"
TOTP_PERIOD = 30

_CSRF_INPUT = re.compile(
    r"""<input[^>]*name=["']csrfmiddlewaretoken["'][^>]*value=["']([^"']+)["']""", re.IGNORECASE
)
_CSRF_INPUT_REVERSED = re.compile(
    r"""<input[^>]*value=["']([^"']+)["'][^>]*name=["']csrfmiddlewaretoken["']""", re.IGNORECASE
)
_THROTTLED = re.compile(r"too many (failed )?(sign-in|login)", re.IGNORECASE)


class DrillHTTPError(Exception):
    """The server answered in a way the scenario cannot go on from (no form
    where one was expected, a server error, a connection failure)."""


@dataclass(frozen=True)
class Response:
    status: int
    url: str
    headers: Message
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "") or ""

    def redirects_to(self, path: str) -> bool:
        return self.status in {301, 302, 303, 307, 308} and urllib.parse.urlsplit(
            self.location
        ).path.startswith(path)


class _LoopbackSecureCookiePolicy(http.cookiejar.DefaultCookiePolicy):
    """Browsers treat http://localhost as a secure context and send `Secure`
    (and `__Host-`) cookies to it; urllib's policy does not. Loopback only,
    which is where the test server listens; anything else needs HTTPS."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        if cookie.secure and request.type == "http" and _is_loopback(request.host):
            return True
        return bool(super().return_ok_secure(cookie, request))


def _is_loopback(host: str) -> bool:
    name = urllib.parse.urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def tls_context(*, cafile: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cafile)


def totp_code(secret: str, *, offset: int = 0, at: float | None = None) -> str:
    counter = int(at if at is not None else time.time()) // TOTP_PERIOD + offset
    return str(format_hotp_value(hotp_value(secret, counter)))


@dataclass
class _CodeBook:
    """TOTP codes already spent per secret in this process: the server refuses
    a code twice (replay protection) and accepts one period either side, so
    a second sign-in in the same period uses the next period's code."""

    used: dict[str, set[int]] = field(default_factory=dict)

    def next_code(self, secret: str) -> str:
        now = time.time()
        base = int(now) // TOTP_PERIOD
        spent = self.used.setdefault(secret, set())
        for offset in (0, 1, -1):
            if base + offset not in spent:
                spent.add(base + offset)
                return totp_code(secret, offset=offset, at=now)
        time.sleep(TOTP_PERIOD - now % TOTP_PERIOD + 0.5)
        return self.next_code(secret)


CODES = _CodeBook()


@dataclass(frozen=True)
class SignIn:
    """How a sign-in attempt ended: `signed_in`, `refused` (wrong password or
    account not usable: the server does not say which), `throttled`, or
    `mfa_refused`."""

    outcome: str
    status: int

    @property
    def ok(self) -> bool:
        return self.outcome == "signed_in"


class DrillClient:
    """One browser-like session against `base_url`."""

    def __init__(self, base_url: str, *, context: ssl.SSLContext | None = None, label: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.jar = http.cookiejar.CookieJar(policy=_LoopbackSecureCookiePolicy())
        handlers: list[Any] = [urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()]
        if self.base_url.startswith("https://"):
            handlers.append(urllib.request.HTTPSHandler(context=context or tls_context()))
        self.opener = urllib.request.build_opener(*handlers)
        self.user_agent = f"{USER_AGENT} ({label})" if label else USER_AGENT
        self.requests = 0

    # --- plumbing -------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def request(
        self, method: str, path: str, data: dict[str, str] | None = None, referer: str = ""
    ) -> Response:
        url = self.url(path)
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - http(s) only
        if not url.startswith(("http://", "https://")):  # pragma: no cover - url() always prefixes
            raise DrillHTTPError("only http and https URLs")
        request.add_header("User-Agent", self.user_agent)
        request.add_header("Accept", "text/html")
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
            request.add_header("Origin", self.base_url)
            request.add_header("Referer", self.url(referer or path))
        self.requests += 1
        try:
            with self.opener.open(request, timeout=60) as answer:
                return Response(answer.status, url, answer.headers, answer.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as answer:
            text = answer.read().decode("utf-8", "replace")
            return Response(answer.code, url, answer.headers, text)
        except (urllib.error.URLError, OSError) as error:
            raise DrillHTTPError(f"{method} {urllib.parse.urlsplit(url).path}: {error}") from None

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict[str, str], *, referer: str = "") -> Response:
        return self.request("POST", path, data, referer)

    @staticmethod
    def csrf_token(page: Response) -> str:
        match = _CSRF_INPUT.search(page.body) or _CSRF_INPUT_REVERSED.search(page.body)
        if match is None:
            raise DrillHTTPError(f"no form on {urllib.parse.urlsplit(page.url).path} (HTTP {page.status})")
        return match.group(1)

    def submit(self, path: str, fields: dict[str, str]) -> Response:
        """GET the form at `path`, then POST `fields` with its CSRF token."""
        page = self.get(path)
        if page.status >= 500:
            raise DrillHTTPError(f"GET {urllib.parse.urlsplit(page.url).path}: HTTP {page.status}")
        return self.post(path, {"csrfmiddlewaretoken": self.csrf_token(page), **fields}, referer=path)

    # --- what a person does --------------------------------------------------------------------
    def sign_in(self, username: str, password: str, totp_secret: str | None = None) -> SignIn:
        """allauth's sign-in: password form, then the authenticator code."""
        answer = self.submit(LOGIN_PATH, {"login": username, "password": password})
        if answer.redirects_to(MFA_PATH):
            if totp_secret is None:
                return SignIn("mfa_refused", answer.status)
            code = CODES.next_code(totp_secret)
            answer = self.submit(MFA_PATH, {"code": code})
            if answer.status in {301, 302, 303} and not answer.redirects_to(MFA_PATH):
                return SignIn("signed_in", answer.status)
            return SignIn("mfa_refused", answer.status)
        if answer.status in {301, 302, 303} and not answer.redirects_to(LOGIN_PATH):
            return SignIn("signed_in", answer.status)
        if answer.status == 429 or _THROTTLED.search(answer.body):
            return SignIn("throttled", answer.status)
        if answer.status >= 500:
            raise DrillHTTPError(f"sign-in: HTTP {answer.status}")
        return SignIn("refused", answer.status)

    def step_up(self, totp_secret: str, next_path: str) -> Response:
        """allauth's MFA re-authentication, as `@step_up_required` asks for."""
        query = urllib.parse.urlencode({"next": next_path})
        return self.submit(f"{REAUTH_PATH}?{query}", {"code": CODES.next_code(totp_secret)})

    def open_chart(self, patient_id: str) -> Response:
        return self.get(f"/clinical/patients/{patient_id}/")

    def break_glass(self, patient_id: str, *, totp_secret: str, justification: str) -> Response:
        """The break-glass dialog: step up if asked, give a reason, open."""
        path = f"/clinical/patients/{patient_id}/break-glass/"
        page = self.get(path)
        if page.redirects_to(REAUTH_PATH):
            done = self.step_up(totp_secret, path)
            if done.status not in {301, 302, 303}:
                raise DrillHTTPError(f"step-up refused (HTTP {done.status})")
            page = self.get(path)
        if page.status != 200:
            return page
        fields = {"reason_kind": "emergency_care", "justification": justification}
        return self.post(path, {"csrfmiddlewaretoken": self.csrf_token(page), **fields}, referer=path)
