"""The PHI discovery pages: the findings queue (with a button that scans a
registered share now), a finding with its triage form, and a scan with the
files it could not read. Patients are shown as a count, never by name."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from safeward.assets import discovery_selectors as selectors
from safeward.assets import discovery_services as services
from safeward.assets.discovery.detectors import CATEGORIES
from safeward.assets.discovery.formats import Protection
from safeward.assets.models import DiscoveryFinding, DiscoveryScan
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm

CATEGORY_LABELS = {
    "ssn": "Social Security numbers (valid)",
    "mrn": "Medical record numbers",
    "icd10": "ICD-10 codes",
    "dob_with_name": "Dates of birth next to names",
    "phone": "Phone numbers",
    "email": "E-mail addresses",
    "address": "Street addresses",
}
IDENTIFIER_LABELS = {
    "mrn": "MRN",
    "national_id": "national id",
    "phone": "phone",
    "birth_date": "birth date too",
    "name_dob": "name and birth date",
}


class TriageForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("confirm", "Confirm: this is PHI that should not be here"),
            ("remediate", "Remediated"),
            ("false_positive", "False positive"),
        ],
        widget=forms.RadioSelect,
    )
    remediation = forms.ChoiceField(
        choices=[("", "—"), *[(v, label) for v, label in DiscoveryFinding.Remediation.choices if v]],
        required=False,
        label="How it was remediated",
        help_text="Deleted and moved are carried out by SafeWard (moved: into the quarantine folder); "
        "encrypted is checked on disk.",
    )
    note = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note or reason"
    )


class ShareScanForm(forms.Form):
    asset = forms.TypedChoiceField(coerce=int, label="Registered file share")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["asset"].choices = [  # type: ignore[attr-defined]
            (share.pk, f"{share.name} ({share.location})") for share in selectors.scannable_shares()
        ]


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _queue(
    request: HttpRequest, *, status: int = 200, scan_form: ShareScanForm | None = None
) -> HttpResponse:
    wanted = request.GET.get("status", "")
    if wanted and wanted not in DiscoveryFinding.Status.values:
        wanted, status = "", 400
        messages.error(request, "Unknown status filter; showing the triage queue.")
    rows = selectors.findings(status=wanted or None)[:200]
    return render(
        request,
        "assets/discovery/queue.html",
        {
            "findings": rows,
            "status": wanted,
            "statuses": DiscoveryFinding.Status.choices,
            "scans": selectors.scans_recent(),
            "scan_form": scan_form or ShareScanForm(),
            "can_scan": request.user.has_perm(Perm.ASSETS_DISCOVERY_RUN),
        },
        status=status,
    )


@require_GET
@requires(Perm.ASSETS_FINDING_READ)
def finding_queue(request: HttpRequest) -> HttpResponse:
    return _queue(request)


@require_POST
@requires(Perm.ASSETS_DISCOVERY_RUN)
def share_scan(request: HttpRequest) -> HttpResponse:
    form = ShareScanForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a registered file share to scan.")
        return _queue(request, status=400, scan_form=form)
    try:
        summary = services.share_scan(actor=_actor(request), asset_id=form.cleaned_data["asset"])
    except services.DiscoveryError as error:
        messages.error(request, error.message)
        return _queue(request, status=400, scan_form=form)
    scan = summary.scan
    messages.success(
        request,
        f"Scan {scan.pk}: {scan.files_read} file(s) read, {scan.files_unchanged} unchanged, "
        f"{scan.files_skipped} not read; {scan.findings_opened} finding(s) opened.",
    )
    return redirect("assets:scan", scan_id=scan.pk)


def _finding_page(
    request: HttpRequest, finding: DiscoveryFinding, *, form: TriageForm | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "assets/discovery/finding.html",
        {
            "finding": finding,
            "counts": [(CATEGORY_LABELS[c], finding.counts[c]) for c in CATEGORIES if finding.counts.get(c)],
            "matched_by": [
                (label, finding.matched_by[kind])
                for kind, label in IDENTIFIER_LABELS.items()
                if kind in finding.matched_by
            ],
            "protection": Protection.LABELS.get(finding.protection, ""),
            "form": form or TriageForm(),
            "can_triage": request.user.has_perm(Perm.ASSETS_FINDING_TRIAGE)
            and finding.status in (DiscoveryFinding.Status.OPEN, DiscoveryFinding.Status.CONFIRMED),
        },
        status=status,
    )


def _finding_or_404(finding_id: int) -> DiscoveryFinding:
    finding = selectors.finding_get(finding_id=finding_id)
    if finding is None:
        raise Http404
    return finding


@require_GET
@requires(Perm.ASSETS_FINDING_READ)
def finding_detail(request: HttpRequest, finding_id: int) -> HttpResponse:
    return _finding_page(request, _finding_or_404(finding_id))


@require_POST
@requires(Perm.ASSETS_FINDING_TRIAGE)
def finding_triage(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = _finding_or_404(finding_id)
    form = TriageForm(request.POST)
    if not form.is_valid():
        return _finding_page(request, finding, form=form, status=400)
    try:
        services.finding_triage(actor=_actor(request), finding_id=finding.pk, **form.cleaned_data)
    except services.DiscoveryError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _finding_page(request, _finding_or_404(finding_id), form=form, status=400)
    messages.success(request, f"Finding {finding.pk} saved.")
    return redirect("assets:finding", finding_id=finding.pk)


@require_GET
@requires(Perm.ASSETS_FINDING_READ)
def scan_detail(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = DiscoveryScan.objects.select_related("asset").filter(pk=scan_id).first()
    if scan is None:
        raise Http404
    return render(
        request,
        "assets/discovery/scan.html",
        {
            "scan": scan,
            "findings": scan.findings.select_related("asset"),
            "unread": selectors.scan_unread_files(scan_id=scan.pk),
        },
    )
