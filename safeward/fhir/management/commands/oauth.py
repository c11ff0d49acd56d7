"""`safeward oauth`: OAuth/SMART client registrations from the command line
(the same services as the page at /oauth/clients/, ADR 0606).

    safeward oauth list
    safeward oauth show ID
    safeward oauth register --name "Growth charts" --owner USERNAME \\
        --grant authorization-code --client-type public|confidential \\
        --scopes "openid fhirUser launch/patient patient/*.rs" \\
        --redirect-uri https://app.example.org/callback --expires 2027-12-31
    safeward oauth register --name "Lab system" --owner USERNAME \\
        --grant client-credentials --client-type confidential --scopes "system/*.rs" \\
        --jwks-file lab-jwks.json --service-account USERNAME --expires 2027-12-31
    safeward oauth set-expiry ID 2028-06-30
    safeward oauth revoke ID --reason "contract ended"

A confidential app's client secret is printed once, at registration; only
its hash is stored. Every change is audited as a configuration change by
`system:cli`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone


def _message(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(f"{field}: {' '.join(texts)}" for field, texts in error.message_dict.items())
    return " ".join(error.messages)


def _day_end(value: str) -> dt.datetime:
    """The end of a day given as YYYY-MM-DD, in the server's time zone."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value[:20]}") from None
    return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59, 59)))


def _user(username: str) -> Any:
    from safeward.identity.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no account named {username[:150]}")
    return user


class Command(BaseCommand):
    help = "List, show, register, revoke or set the expiry of OAuth/SMART clients."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("list", help="every registered client and its state")
        show = sub.add_parser("show", help="one registration")
        show.add_argument("registration_id", type=int)
        register = sub.add_parser("register", help="register an app or a backend service")
        register.add_argument("--name", required=True)
        register.add_argument("--owner", required=True, help="username of the person who answers for it")
        register.add_argument("--grant", required=True, choices=["authorization-code", "client-credentials"])
        register.add_argument("--client-type", required=True, choices=["public", "confidential"])
        register.add_argument("--scopes", required=True, help="space-separated SMART scopes it may ask for")
        register.add_argument("--redirect-uri", action="append", default=[], help="repeat for several")
        register.add_argument("--jwks-file", help="backend services: the public JWKS (one key with a kid)")
        register.add_argument("--service-account", help="backend services: the account it acts as")
        register.add_argument("--expires", required=True, help="YYYY-MM-DD; refused after that day")
        expiry = sub.add_parser("set-expiry", help="move a client's expiry")
        expiry.add_argument("registration_id", type=int)
        expiry.add_argument("expires", help="YYYY-MM-DD")
        revoke = sub.add_parser("revoke", help="disable a client and revoke its tokens")
        revoke.add_argument("registration_id", type=int)
        revoke.add_argument("--reason", required=True)

    def handle(self, *args: Any, verb: str, **options: Any) -> None:
        from safeward.fhir import clients

        try:
            if verb == "register":
                jwks = Path(options["jwks_file"]).read_text(encoding="utf-8") if options["jwks_file"] else ""
                service = _user(options["service_account"]) if options["service_account"] else None
                registered = clients.client_register(
                    actor=None,
                    name=options["name"],
                    owner=_user(options["owner"]),
                    grant=options["grant"],
                    client_type=options["client_type"],
                    scopes=options["scopes"],
                    redirect_uris=options["redirect_uri"],
                    jwks=jwks,
                    service_account=service,
                    expires_at=_day_end(options["expires"]),
                )
                registration = registered.registration
                self.stdout.write(f"client {registration.pk} registered")
                self.stdout.write(f"client id: {registration.application.client_id}")
                if registered.client_secret:
                    self.stdout.write(f"client secret (shown once): {registered.client_secret}")
            elif verb == "set-expiry":
                registration = clients.client_set_expiry(
                    actor=None,
                    registration_id=options["registration_id"],
                    expires_at=_day_end(options["expires"]),
                )
                self.stdout.write(
                    f"client {registration.pk} now expires {registration.expires_at:%Y-%m-%d %H:%M}"
                )
            elif verb == "revoke":
                revoked = clients.client_revoke(
                    actor=None, registration_id=options["registration_id"], reason=options["reason"]
                )
                self.stdout.write(f"client {options['registration_id']} revoked; {revoked} token(s) ended")
            elif verb == "show":
                self._show(options["registration_id"])
            else:
                registrations = clients.clients_list()
                for r in registrations:
                    self.stdout.write(
                        f"{r.pk:>5}  {clients.client_state(r):<8}  {r.expires_at:%Y-%m-%d}  "
                        f"{r.application.authorization_grant_type:<18}  {r.application.name}"
                    )
                self.stdout.write(f"{len(registrations)} client(s)")
        except ValidationError as error:
            raise CommandError(_message(error)) from None
        except OSError as error:
            raise CommandError(f"cannot read the JWKS file: {error.strerror}") from None

    def _show(self, registration_id: int) -> None:
        from safeward.fhir import clients
        from safeward.fhir.models import ClientKey

        r = clients.client_get(registration_id=registration_id)
        if r is None:
            raise CommandError("no such client")
        application = r.application
        key = ClientKey.objects.filter(application=application).first()
        lines = [
            f"name: {application.name}",
            f"client id: {application.client_id}",
            f"state: {clients.client_state(r)}",
            f"owner: {r.owner.username}",
            f"grant: {application.authorization_grant_type} ({application.client_type})",
            f"scopes: {r.allowed_scopes}",
            f"redirect URIs: {application.redirect_uris or '-'}",
            f"key: {f'{key.algorithm} kid={key.kid}' if key else '-'}",
            f"expires: {r.expires_at:%Y-%m-%d %H:%M}",
            f"revoked: {f'{r.revoked_at:%Y-%m-%d %H:%M}' if r.revoked_at else '-'}",
        ]
        self.stdout.write("\n".join(lines))
