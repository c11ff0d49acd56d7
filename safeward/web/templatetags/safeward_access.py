"""`{% may "app:view" as allowed %}`: show an action only to those its view
accepts (safeward.web.access)."""

from __future__ import annotations

from django import template

from safeward.web.access import may_use

register = template.Library()


@register.simple_tag(takes_context=True)
def may(context: template.Context, url_name: str) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return may_use(user, url_name)
