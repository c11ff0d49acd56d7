from django.core.exceptions import PermissionDenied


class NotPermitted(PermissionDenied):
    """The actor lacks the permission for this operation."""


class SeparationOfDuties(PermissionDenied):
    """The operation would let one person both ask for and approve a privilege."""


class InvalidState(ValueError):
    """The object is not in a state that allows this operation."""
