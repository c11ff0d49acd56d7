"""The assessments app's models: control runs and exceptions (`controls`);
campaigns and the risk register join here as their modules arrive."""

from safeward.assessments.models.controls import (
    ControlException,
    ControlResult,
    ControlRun,
    ResourceResult,
)

__all__ = ["ControlException", "ControlResult", "ControlRun", "ResourceResult"]
