"""The security officer's key page: status for crypto:key:read, rotation for
crypto:key:manage with a fresh second factor (step-up). Above identity (its
guards) and the keyring; the keyring's own module is the one door's, not a
page's, so the purposes are named by their values."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from safeward.crypto.errors import CryptoError
from safeward.crypto.selectors import keyring_status
from safeward.crypto.services import Actor, key_rotate
from safeward.identity.decorators import requires, step_up_required
from safeward.identity.models import User
from safeward.identity.permissions import Perm

# The key purposes (crypto.keyring.Purpose) rotated from this page.
DATA = "data"
SIGNING = "signing"


@require_GET
@requires(Perm.CRYPTO_KEY_READ)
def key_status(request: HttpRequest) -> HttpResponse:
    status = keyring_status()
    return render(
        request,
        "oversight/keys.html",
        {
            "status": status,
            "can_manage": request.user.has_perm(Perm.CRYPTO_KEY_MANAGE),
            "rotatable": [DATA, SIGNING],
        },
    )


@require_POST
@requires(Perm.CRYPTO_KEY_MANAGE)
@step_up_required
def key_rotate_view(request: HttpRequest) -> HttpResponse:
    purpose = request.POST.get("purpose", "")
    if purpose not in (DATA, SIGNING):
        messages.error(request, "Choose data or signing keys to rotate.")
        return redirect("crypto:keys")
    assert isinstance(request.user, User)
    try:
        key = key_rotate(actor=Actor(user=request.user), purpose=purpose)
    except CryptoError as error:
        messages.error(request, str(error))
        return redirect("crypto:keys")
    note = " Run `safeward keys reencrypt` to move existing values." if purpose == DATA else ""
    messages.success(request, f"{key.purpose} key v{key.version} is now primary.{note}")
    return redirect("crypto:keys")
