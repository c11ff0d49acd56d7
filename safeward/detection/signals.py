"""Signals the detection worker sends. `alerts_raised` is sent once per
batch (one `alerts_raise` call), after the transaction that created or grew
the alerts has committed, with `alerts`: a list of (alert id, created), one
per alert touched, created True for a new alert and False when only repeats
were grouped into an open one. Notifications listen to it (ADR 1022)."""

from django.dispatch import Signal

alerts_raised = Signal()
