"""Where a person comes back to after signing in or re-authenticating.

One rule for the sign-in gate, step-up and allauth's re-authentication: the
address travels in `next` only when it is a local path of bounded length. A
longer address loses its query string (the page without its filters), an
address that cannot be carried at all leaves `next` out (the dashboard after
the code), so the redirect never exceeds Django's cap (a 400 and an ERROR in
the log, for anyone to provoke) and never points at another site."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponseRedirect
from django.utils.encoding import escape_uri_path
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

# The longest `next` carried. Percent-encoded it may triple, still well under
# Django's 16,384-character cap on a redirect; allauth drops a `next` over
# 2,048 characters after the code (url_has_allowed_host_and_scheme).
NEXT_MAX_LENGTH = 2000


def carriable(url: str) -> bool:
    """A path on this site (no scheme, no host, nothing a browser reads as
    one, such as `//host` or `/\\host`) short enough to carry."""
    return (
        len(url) <= NEXT_MAX_LENGTH
        and url.startswith("/")
        and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
    )


def return_path(request: HttpRequest) -> str | None:
    """The request's own address to come back to; without its query string
    when the whole is too long to carry; None when even the path is."""
    return next(
        (url for url in (request.get_full_path(), escape_uri_path(request.path)) if carriable(url)), None
    )


def form_page(request: HttpRequest) -> str | None:
    """The page a form (a POST) was sent from, when the browser names it and
    it is this site: after re-authenticating, coming back to a POST-only
    address would be a 405. Bounded like `return_path`."""
    try:
        parts = urlsplit(request.headers.get("Referer", ""))
    except ValueError:
        return None
    # The origin alone is checked: Django's check refuses any URL over 2,048
    # characters, and a long page comes back without its query below.
    origin = f"{parts.scheme}://{parts.netloc}/"
    if parts.scheme not in {"http", "https"} or not url_has_allowed_host_and_scheme(
        origin, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    candidates = (urlunsplit(("", "", parts.path, parts.query, "")), parts.path)
    return next((url for url in candidates if carriable(url)), None)


def resume_after_reauthentication(request: HttpRequest) -> str | None:
    """Where re-authentication brings the person back: a GET's own address,
    a form's page."""
    return return_path(request) if request.method in {"GET", "HEAD"} else form_page(request)


def redirect_with_next(to: str, back: str | None) -> HttpResponseRedirect:
    """A redirect to `to` carrying `back` in `next`, when there is one."""
    return HttpResponseRedirect(f"{to}?{urlencode({'next': back})}" if back else to)
