"""The assessments app's models, one module per part (ADR 0940)."""

from safeward.assessments.models.campaigns import (
    Campaign,
    Evidence,
    Finding,
    Maturity,
    Question,
    Severity,
)
from safeward.assessments.models.risks import Level, Risk, Scale, risk_level

__all__ = [
    "Campaign",
    "Evidence",
    "Finding",
    "Level",
    "Maturity",
    "Question",
    "Risk",
    "Scale",
    "Severity",
    "risk_level",
]
