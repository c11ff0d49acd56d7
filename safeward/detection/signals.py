"""Signals the detection worker sends. `alert_raised` is sent after the
transaction that created or grew an alert has committed, with
`alert_id` (int) and `created` (True for a new alert, False when a repeat
was grouped into an open one). Notifications listen to it."""

from django.dispatch import Signal

alert_raised = Signal()
