"""The acknowledgement interstitial (ADR 0930): a signed-in person with a
required policy revision still to acknowledge is sent, on their next page,
to the page that asks them to acknowledge it before continuing. They may
continue for the rest of the session (a banner stays): within the grace
period with everything, past it without the permissions of the roles the
policy is required for (`gate.filter_permissions` has removed them; the
interstitial and the banner say so). Other roles' work goes on.

Only page views (GET, not the API) are redirected; the policy pages, sign-out
and static files never are."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from safeward.identity.models import User
from safeward.policies.gate import gate_state

Handler = Callable[[HttpRequest], HttpResponse]

# Where nobody is sent away from.
PASS_THROUGH = ("/policies/", "/accounts/", "/static/", "/api/", "/fhir/", "/o/", "/workforce/me/")
# The session key of "continue for now": the revision ids the person saw and set aside.
DEFERRED = "policies_deferred"


class PolicyAcknowledgementMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            request.method == "GET"
            and isinstance(user, User)
            and user.is_authenticated
            and not request.path.startswith(PASS_THROUGH)
            and "application/json" not in request.headers.get("Accept", "")
        ):
            state = gate_state(user)
            deferred = set(request.session.get(DEFERRED, []))
            if any(p.revision_id not in deferred for p in state.pending):
                target = reverse("policies:interstitial") + "?" + urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(target)
        return self.get_response(request)
