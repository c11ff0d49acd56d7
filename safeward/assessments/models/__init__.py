"""The assessments app's models, one module per part: control runs and
exceptions (`controls`, ADR 0900), campaigns and the risk register (ADR 0940)."""

from safeward.assessments.models.campaigns import (
    Campaign,
    Evidence,
    Finding,
    Maturity,
    Question,
    Severity,
)
from safeward.assessments.models.controls import (
    ControlException,
    ControlResult,
    ControlRun,
    ResourceResult,
)
from safeward.assessments.models.risks import Level, Risk, Scale, risk_level

__all__ = [
    "Campaign",
    "ControlException",
    "ControlResult",
    "ControlRun",
    "Evidence",
    "Finding",
    "Level",
    "Maturity",
    "Question",
    "ResourceResult",
    "Risk",
    "Scale",
    "Severity",
    "risk_level",
]
