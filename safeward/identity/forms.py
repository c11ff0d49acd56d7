from __future__ import annotations

import ipaddress
from typing import Any

from django import forms

from safeward.identity.models import DRILL_USERNAME_PREFIX, Department, Role


class UserCreateForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[a-z0-9][a-z0-9._-]{1,39}$",
        max_length=40,
        help_text="2 to 40 characters: lowercase letters, digits, dot, dash, underscore.",
        error_messages={"invalid": "Use lowercase letters, digits, dot, dash or underscore."},
    )
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(max_length=254, required=False)
    department = forms.ModelChoiceField(queryset=Department.objects.all(), required=False)
    job_title = forms.CharField(max_length=120, required=False)

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        if username.startswith(DRILL_USERNAME_PREFIX):
            raise forms.ValidationError(
                f"Usernames starting with '{DRILL_USERNAME_PREFIX}' are reserved for attack drills."
            )
        return username


class RoleGrantForm(forms.Form):
    role = forms.ModelChoiceField(queryset=Role.objects.all())
    reason = forms.CharField(max_length=300, help_text="Why this person needs the role.")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False)


class ZoneForm(forms.Form):
    name = forms.SlugField(max_length=64)
    description = forms.CharField(max_length=200, required=False)
    cidrs = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text="One CIDR range per line, e.g. 10.20.0.0/16",
    )
    clinical = forms.BooleanField(required=False, help_text="Inside the hospital's clinical network.")

    def clean_cidrs(self) -> list[str]:
        ranges = [line.strip() for line in self.cleaned_data["cidrs"].splitlines() if line.strip()]
        if not ranges:
            raise forms.ValidationError("Give at least one CIDR range.")
        if len(ranges) > 100:
            raise forms.ValidationError("Give at most 100 ranges.")
        for cidr in ranges:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise forms.ValidationError(f"{cidr!r} is not a CIDR range.") from None
        return ranges


class SingleSessionRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        choices=(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Roles allowed one session at a time",
        help_text="A new sign-in of an account that holds one of these roles ends its other sessions.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        roles = self.fields["roles"]
        assert isinstance(roles, forms.MultipleChoiceField)
        roles.choices = [(role.code, role.name) for role in Role.objects.order_by("name")]
