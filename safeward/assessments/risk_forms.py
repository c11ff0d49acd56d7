"""The one validation of a risk's fields, used by the pages and the REST API alike."""

from __future__ import annotations

from typing import Any

from django import forms

from safeward.assessments import campaign_selectors, risk_selectors
from safeward.assessments.models import Risk, Scale


def _owner_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [
        (str(user.pk), f"{user.get_full_name() or user.username} ({user.username})")
        for user in campaign_selectors.owner_choices()
    ]


class RiskForm(forms.Form):
    title = forms.CharField(max_length=200)
    threat_source = forms.ChoiceField(
        choices=Risk.ThreatSource.choices, label="Threat source (SP 800-30 Table D-2)"
    )
    threat_event = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), help_text="What the threat source does."
    )
    vulnerability = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The weakness or predisposing condition it exploits.",
    )
    likelihood = forms.TypedChoiceField(coerce=int, choices=Scale.choices)
    impact = forms.TypedChoiceField(coerce=int, choices=Scale.choices)
    treatment = forms.ChoiceField(choices=Risk.Treatment.choices)
    treatment_plan = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The controls to add, the transfer, or why the risk is accepted.",
    )
    owner = forms.TypedChoiceField(coerce=int)
    residual_likelihood = forms.TypedChoiceField(
        coerce=int, choices=Scale.choices, label="Residual likelihood"
    )
    residual_impact = forms.TypedChoiceField(coerce=int, choices=Scale.choices, label="Residual impact")
    review_due = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Next review")
    status = forms.ChoiceField(choices=Risk.Status.choices, initial=Risk.Status.OPEN)
    asset_ids = forms.TypedMultipleChoiceField(
        coerce=int, required=False, label="Assets", widget=forms.SelectMultiple
    )
    control_ids = forms.MultipleChoiceField(
        required=False, label="Control tests", widget=forms.SelectMultiple
    )
    finding_ids = forms.TypedMultipleChoiceField(
        coerce=int, required=False, label="Assessment findings", widget=forms.SelectMultiple
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = _owner_choices()  # type: ignore[attr-defined]
        self.fields["asset_ids"].choices = [(str(pk), name) for pk, name in risk_selectors.asset_choices()]  # type: ignore[attr-defined]
        self.fields["control_ids"].choices = risk_selectors.control_choices()  # type: ignore[attr-defined]
        self.fields["finding_ids"].choices = [  # type: ignore[attr-defined]
            (str(pk), label) for pk, label in campaign_selectors.finding_choices()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("likelihood", "impact"):
            residual = data.get(f"residual_{name}")
            if residual is not None and data.get(name) is not None and residual > data[name]:
                self.add_error(
                    f"residual_{name}", f"The residual {name} cannot be higher than the inherent {name}."
                )
        return data

    def risk_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {name: data[name] for name in data if name not in ("owner", "finding_ids")}
        values["owner_id"] = data["owner"]
        return values

    def linked_finding_ids(self) -> list[int]:
        return list(self.cleaned_data.get("finding_ids") or [])

    @classmethod
    def initial_for(cls, risk: Risk) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(risk, name)
            for name in (
                "title",
                "threat_source",
                "threat_event",
                "vulnerability",
                "likelihood",
                "impact",
                "treatment",
                "treatment_plan",
                "residual_likelihood",
                "residual_impact",
                "review_due",
                "status",
                "asset_ids",
                "control_ids",
            )
        }
        initial["owner"] = risk.owner_id
        initial["finding_ids"] = list(risk.findings.values_list("pk", flat=True))
        return initial


class ReviewForm(forms.Form):
    next_review_due = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Next review")
