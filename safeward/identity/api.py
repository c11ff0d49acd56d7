"""A minimal authenticated REST endpoint: who am I. Used by API clients (and
the termination test) to check a token still works."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.identity.api_permissions import TokenScope
from safeward.identity.decorators import AUTHENTICATED_ONLY
from safeward.identity.models import User
from safeward.identity.selectors import user_account_usable, user_permissions, user_role_codes


class UsableAccount(BasePermission):
    """Any signed-in account that is active, unlocked and not refused by an
    account check (e.g. the workforce record): for endpoints about oneself."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return isinstance(user, User) and user_account_usable(user=user)


class MeOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    permissions = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    # Declared like a web view's @authenticated: about oneself, no role needed.
    # A token needs `read` ("Read your account"): `openid` alone discloses no more than `sub`.
    required_permission = AUTHENTICATED_ONLY
    permission_classes = [UsableAccount, TokenScope]
    token_scopes = {"GET": "read"}

    @extend_schema(responses=MeOutput, operation_id="me_read")
    def get(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "roles": user_role_codes(user=user),
            "permissions": sorted(user_permissions(user=user)),
        }
        return Response(MeOutput(data).data)


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, for signed-in accounts (it maps the attack surface)."""

    required_permission = AUTHENTICATED_ONLY
    permission_classes = [UsableAccount, TokenScope]
    token_scopes = {"GET": "read"}
