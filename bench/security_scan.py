"""Scan a running demo with sqlmap, wapiti and schemathesis, signed in as demo
users, and count what they found. Point it only at your own demo on loopback.

    ./run demo                                   # in one terminal
    .venv/bin/python bench/security_scan.py      # in another (the dev venv has schemathesis)

sqlmap is a Debian package (`apt-get install sqlmap`); Debian 12's wapiti
3.0.4 crashes on Python 3.11 when given an excluded URL, so use PyPI's
(`python3 -m venv /tmp/wapiti && /tmp/wapiti/bin/pip install wapiti3`) and
pass --wapiti /tmp/wapiti/bin/wapiti.
Each tool signs in afresh (password + TOTP from var/demo-credentials.json)
and gets the session cookie; sign-out and session pages are excluded so a
crawler cannot end its own session. schemathesis talks to the API as an
integrator does, with a bearer token from the authorization-code flow (PKCE
S256) of a client registered for the scan:

    safeward oauth register --name "Security scan" --owner demo.it_admin \
      --grant authorization-code --client-type public \
      --scopes "user/*.cruds read write" --redirect-uri https://localhost/scan/callback \
      --expires YYYY-MM-DD                      # then pass --client-id

Results: one line per tool and role with findings and server errors, and the
tools' own reports under --out.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The drill client's TOTP comes from allauth, which reads Django settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
os.environ.setdefault("SAFEWARD_DEMO", "1")
django.setup()

from safeward.detection.drills.client import DrillClient, tls_context  # noqa: E402

EXCLUDED = (
    r"logout|sign-out|/sessions/|/accounts/password"
    r"|/accounts/2fa/(deactivate|recovery|webauthn|totp/deactivate)"
)


@dataclass
class Result:
    tool: str
    role: str
    findings: int
    server_errors: int
    requests: str
    seconds: float
    note: str = ""


def sign_in(base: str, credentials: Path, role: str) -> str:
    """A Cookie header for a fresh signed-in session of the demo user with `role`."""
    users = json.loads(credentials.read_text())["users"]
    user = next(u for u in users if u.get("role") == role or u["username"] == f"demo.{role}")
    client = DrillClient(base, context=tls_context(insecure=True), label=f"scan {role}")
    outcome = client.sign_in(user["username"], user["password"], user["totp_secret"])
    if not outcome.ok:
        raise SystemExit(f"security_scan: sign-in as {user['username']} failed ({outcome.outcome})")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in client.jar)


_INPUT = re.compile(r"<input[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""(name|value|type)=["']([^"']*)["']""", re.IGNORECASE)


def bearer_token(
    base: str, credentials: Path, role: str, client_id: str, redirect_uri: str, scope: str
) -> str:
    """An access token for the demo user with `role`, through the consent page
    and /o/token/ exactly as a SMART app gets one."""
    users = json.loads(credentials.read_text())["users"]
    user = next(u for u in users if u.get("role") == role or u["username"] == f"demo.{role}")
    client = DrillClient(base, context=tls_context(insecure=True), label=f"scan {role} token")
    if not client.sign_in(user["username"], user["password"], user["totp_secret"]).ok:
        raise SystemExit(f"security_scan: sign-in as {user['username']} failed")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    consent = client.get(f"/o/authorize/?{query}")
    fields = {}
    for tag in _INPUT.findall(consent.body):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTR.findall(tag)}
        if attrs.get("name") and attrs.get("type", "").lower() != "submit":
            fields[attrs["name"]] = attrs.get("value", "")
    if "client_id" not in fields:
        raise SystemExit(f"security_scan: no consent form for client {client_id} (HTTP {consent.status})")
    answer = client.post(
        f"/o/authorize/?{query}", {**fields, "allow": "Authorize"}, referer=f"/o/authorize/?{query}"
    )
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.location).query).get("code", [""])[0]
    if not code:
        raise SystemExit(f"security_scan: consent gave no code (HTTP {answer.status})")
    request = urllib.request.Request(  # noqa: S310 - the base URL is checked to be loopback
        client.url("/o/token/"),
        data=urllib.parse.urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            }
        ).encode(),
        headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
    )
    with client.opener.open(request, timeout=30) as answer:
        return str(json.loads(answer.read())["access_token"])


def run(command: list[str], log: Path, timeout: int) -> tuple[str, float]:
    started = time.monotonic()
    with log.open("w") as out:
        try:
            subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            out.write(f"\nsecurity_scan: stopped after {timeout} s\n")
    return log.read_text(errors="replace"), time.monotonic() - started


def sqlmap(base: str, cookie: str, out: Path, role: str, timeout: int) -> Result:
    log = out / f"sqlmap-{role}.log"
    text, seconds = run(
        [
            "sqlmap",
            "-u",
            f"{base}/",
            "--crawl=3",
            "--forms",
            "--batch",
            "--level=2",
            "--risk=1",
            f"--crawl-exclude={EXCLUDED}",
            f"--cookie={cookie}",
            "--csrf-token=csrfmiddlewaretoken",
            "-H",
            f"Origin: {base}",
            f"--referer={base}/",
            "--disable-coloring",
            f"--output-dir={out / 'sqlmap'}",
            "--answers=crawl=Y,follow=N,store=N",
        ],
        log,
        timeout,
    )
    findings = len(re.findall(r"parameter '[^']+' (is|appears to be) .*injectable", text)) + len(
        re.findall(r"sqlmap identified the following injection point", text)
    )
    errors = re.search(r"HTTP error codes detected during run:\s*(.*)", text)
    server_errors = (
        sum(int(n) for n in re.findall(r"5\d\d \([^)]*\) - (\d+) times", errors.group(1))) if errors else 0
    )
    targets = re.search(r"found a total of (\d+) targets", text)
    tested = len(re.findall(r"does not seem to be injectable|is vulnerable|appears to be .*injectable", text))
    scope = f"{targets.group(1) if targets else 0} targets, {tested} parameters"
    return Result("sqlmap", role, findings, server_errors, scope, seconds)


WAPITI = ["wapiti"]
# Every attack module that works on this server alone. Left out: those that call
# an outside host (ssrf, log4shell, xxe's out-of-band check, takeover), fetch
# outside databases (nikto, wapp, cms), brute-force the sign-in (brute_login_form:
# the throttle is tested in the suite) or guess other products (htp, buster,
# printer, network_device, shellshock, spring4shell, wp_enum); timesql is sql's
# slow twin.
WAPITI_MODULES = "backup,crlf,csrf,exec,file,htaccess,ldap,methods,permanentxss,redirect,sql,ssl,upload,xss"


def wapiti(base: str, cookie: str, out: Path, role: str, timeout: int) -> Result:
    report = out / f"wapiti-{role}.json"
    _, seconds = run(
        [
            *WAPITI,
            "-u",
            f"{base}/",
            "--scope",
            "folder",
            "-H",
            f"Cookie: {cookie}",
            "--verify-ssl",
            "0",
            "-x",
            f"{base}/accounts/logout/",
            "-x",
            f"{base}/accounts/sessions/",
            "--flush-session",
            "-f",
            "json",
            "-o",
            str(report),
            "--max-scan-time",
            str(timeout - 30),
            "-m",
            WAPITI_MODULES,
        ],
        out / f"wapiti-{role}.log",
        timeout,
    )
    if not report.exists():
        return Result("wapiti", role, -1, -1, "", seconds, "no report (see log)")
    data = json.loads(report.read_text())
    # The ssl module's notes are about the demo's self-signed certificate and
    # its refusal to renegotiate at all; testssl covers TLS (docs/operations.md).
    vulnerabilities = data.get("vulnerabilities", {})
    findings = sum(len(items) for name, items in vulnerabilities.items() if not name.startswith("TLS/SSL"))
    tls_notes = sum(len(items) for name, items in vulnerabilities.items() if name.startswith("TLS/SSL"))
    anomalies = data.get("anomalies", {})
    server_errors = sum(len(items) for name, items in anomalies.items() if "Internal Server Error" in name)
    other = sum(len(items) for name, items in anomalies.items() if "Internal Server Error" not in name)
    urls = int(data.get("infos", {}).get("crawled_pages_nbr", 0) or 0)
    note = ", ".join(
        part
        for part in (
            f"{other} other anomalies" if other else "",
            f"{tls_notes} TLS notes" if tls_notes else "",
        )
        if part
    )
    return Result("wapiti", role, findings, server_errors, f"{urls} pages" if urls else "", seconds, note)


def schemathesis(base: str, token: str, out: Path, role: str, timeout: int) -> Result:
    binary = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    text, seconds = run(
        [
            binary,
            "run",
            f"{base}/api/schema/",
            "--checks",
            "all",
            "--tls-verify",
            "false",
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "25",
            "--report",
            "junit",
            "--report-dir",
            str(out / f"schemathesis-{role}"),
        ],
        out / f"schemathesis-{role}.log",
        timeout,
    )
    failures = re.search(r"(\d+) failures?", text)
    server_errors = len(re.findall(r"Server error", text))
    cases = re.search(r"(\d+) generated", text)
    return Result(
        "schemathesis",
        role,
        int(failures.group(1)) if failures else 0,
        server_errors,
        f"{cases.group(1)} cases" if cases else "",
        seconds,
    )


TOOLS = {"sqlmap": sqlmap, "wapiti": wapiti, "schemathesis": schemathesis}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", default="https://127.0.0.1:8443")
    parser.add_argument("--credentials", type=Path, default=ROOT / "var" / "demo-credentials.json")
    parser.add_argument("--roles", default="physician,registration_clerk,security_officer")
    parser.add_argument("--tools", default="sqlmap,wapiti,schemathesis")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per tool and role")
    parser.add_argument(
        "--client-id", default="", help="the scan's OAuth client (see above), for schemathesis"
    )
    parser.add_argument("--redirect-uri", default="https://localhost/scan/callback")
    parser.add_argument("--scope", default="user/*.cruds read write")
    parser.add_argument("--wapiti", default="wapiti", help="the wapiti executable")
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "security-scan")
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    if not re.match(r"https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$", base):
        parser.error("scan only a demo on this machine (127.0.0.0/8, localhost or [::1])")
    args.out.mkdir(parents=True, exist_ok=True)
    WAPITI[:] = [args.wapiti]
    results = []
    for role in args.roles.split(","):
        for tool in args.tools.split(","):
            print(f"==> {tool} as demo.{role}", flush=True)
            if tool == "schemathesis":
                if not args.client_id:
                    parser.error(
                        "schemathesis needs --client-id (register the scan's client first, see above)"
                    )
                credential = bearer_token(
                    base, args.credentials, role, args.client_id, args.redirect_uri, args.scope
                )
            else:
                credential = sign_in(base, args.credentials, role)
            result = TOOLS[tool](base, credential, args.out, role, args.timeout)
            print(
                f"    findings {result.findings}, server errors {result.server_errors}, "
                f"{result.requests} {result.note} ({result.seconds:.0f} s)",
                flush=True,
            )
            results.append(result)
    print("\ntool          role                  findings  5xx  scope")
    for r in results:
        print(f"{r.tool:13} {r.role:21} {r.findings:8} {r.server_errors:4}  {r.requests} {r.note}")
    bad = [r for r in results if r.findings or r.server_errors]
    print(f"\n{len(results)} scans, {len(bad)} with findings or server errors; reports in {args.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
