"""The risk register (issue 18, ADR 0940), after NIST SP 800-30 Rev. 1 and
the HHS Security Risk Assessment tool: a threat (source and event) exploiting
a vulnerability, likelihood x impact on 1-5 scales for the inherent risk, a
treatment with its plan and owner, the residual likelihood x impact, and a
review date. Risks refer to assets by id (read through the assets app's
selectors), to campaign findings, and to control tests by id."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from safeward.assessments.models.campaigns import Finding


class Level(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


# Score (likelihood x impact, 1..25) -> level: 1-4 low, 5-9 moderate, 10-16 high, 20-25 critical.
LEVEL_FLOORS = ((20, Level.CRITICAL), (10, Level.HIGH), (5, Level.MODERATE), (1, Level.LOW))


def risk_level(likelihood: int, impact: int) -> Level:
    score = likelihood * impact
    for floor, level in LEVEL_FLOORS:
        if score >= floor:
            return level
    raise ValueError("likelihood and impact are 1 to 5")


class Scale(models.IntegerChoices):
    """SP 800-30 Appendix G/H's five qualitative values, as 1-5."""

    VERY_LOW = 1, "1 — Very low"
    LOW = 2, "2 — Low"
    MODERATE = 3, "3 — Moderate"
    HIGH = 4, "4 — High"
    VERY_HIGH = 5, "5 — Very high"


class Risk(models.Model):
    class ThreatSource(models.TextChoices):
        """SP 800-30 Rev. 1 Table D-2."""

        ADVERSARIAL = "adversarial", "Adversarial (outsider, insider, vendor, criminal group)"
        ACCIDENTAL = "accidental", "Accidental (a user's or administrator's mistake)"
        STRUCTURAL = "structural", "Structural (equipment, software or environmental controls fail)"
        ENVIRONMENTAL = "environmental", "Environmental (power, fire, flood, storm, infrastructure)"

    class Treatment(models.TextChoices):
        MITIGATE = "mitigate", "Mitigate"
        ACCEPT = "accept", "Accept"
        TRANSFER = "transfer", "Transfer"
        AVOID = "avoid", "Avoid"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    title = models.CharField(max_length=200)
    threat_source = models.CharField(max_length=16, choices=ThreatSource.choices)
    threat_event = models.TextField()
    vulnerability = models.TextField()
    likelihood = models.PositiveSmallIntegerField(choices=Scale.choices)
    impact = models.PositiveSmallIntegerField(choices=Scale.choices)
    treatment = models.CharField(max_length=10, choices=Treatment.choices)
    treatment_plan = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    residual_likelihood = models.PositiveSmallIntegerField(choices=Scale.choices)
    residual_impact = models.PositiveSmallIntegerField(choices=Scale.choices)
    review_due = models.DateField()
    last_reviewed_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    # assets.Asset ids (read through safeward.assets.selectors).
    asset_ids = models.JSONField(default=list, blank=True)
    # Control test ids (safeward.compliance.discover()).
    control_ids = models.JSONField(default=list, blank=True)
    findings = models.ManyToManyField(Finding, blank=True, related_name="risks")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["status", "review_due"], name="assess_risk_review_due")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(likelihood__gte=1, likelihood__lte=5, impact__gte=1, impact__lte=5)
                & models.Q(
                    residual_likelihood__gte=1,
                    residual_likelihood__lte=5,
                    residual_impact__gte=1,
                    residual_impact__lte=5,
                ),
                name="assess_risk_scales",
            ),
        ]

    def __str__(self) -> str:
        return f"risk {self.pk}"

    @property
    def inherent_score(self) -> int:
        return self.likelihood * self.impact

    @property
    def inherent_level(self) -> Level:
        return risk_level(self.likelihood, self.impact)

    @property
    def residual_score(self) -> int:
        return self.residual_likelihood * self.residual_impact

    @property
    def residual_level(self) -> Level:
        return risk_level(self.residual_likelihood, self.residual_impact)
