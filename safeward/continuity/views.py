"""The continuity pages: the dashboard (last backup, last restore test,
downtime state) and declaring, confirming and ending downtime."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.continuity import selectors, services
from safeward.continuity.forms import DowntimeDeclareForm
from safeward.continuity.models import Downtime, PaperEntry
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.templatetags.safeward_text import code_spans


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@require_GET
@requires(Perm.CONTINUITY_STATUS_READ)
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    return render(
        request,
        "continuity/dashboard.html",
        {
            "status": selectors.continuity_status(),
            "backups": selectors.backups_recent(limit=10),
            "restore_tests": selectors.restore_tests_recent(limit=10),
            "downtimes": selectors.downtimes_recent(limit=10),
            "kits": selectors.kits_freshness(),
            "can_declare": user.has_perm(Perm.CONTINUITY_DOWNTIME_DECLARE),
            "form": DowntimeDeclareForm(),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.CONTINUITY_DOWNTIME_DECLARE)
def downtime_declare(request: HttpRequest) -> HttpResponse:
    form = DowntimeDeclareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.downtime_declare(
                actor=_actor(request), kind=form.cleaned_data["kind"], reason=form.cleaned_data["reason"]
            )
        except services.DowntimeRefused as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, "Downtime declared.")
            return redirect("continuity:dashboard")
    status = 400 if request.method == "POST" else 200
    return render(request, "continuity/downtime_form.html", {"form": form}, status=status)


def _downtime(downtime_id: int) -> Downtime:
    found = selectors.downtime_by_id(downtime_id=downtime_id)
    if found is None:
        raise Http404("No such downtime.")
    return found


@require_POST
@requires(Perm.CONTINUITY_DOWNTIME_DECLARE)
def downtime_confirm(request: HttpRequest, downtime_id: int) -> HttpResponse:
    try:
        services.downtime_confirm(actor=_actor(request), downtime=_downtime(downtime_id))
    except services.DowntimeRefused as refused:
        messages.error(request, str(refused))
        return redirect("continuity:dashboard")
    messages.success(request, "Planned downtime confirmed: SafeWard is read-only now.")
    return redirect("continuity:dashboard")


@require_POST
@requires(Perm.CONTINUITY_DOWNTIME_DECLARE)
def downtime_end(request: HttpRequest, downtime_id: int) -> HttpResponse:
    try:
        services.downtime_end(actor=_actor(request), downtime=_downtime(downtime_id))
    except services.DowntimeRefused as refused:
        messages.error(request, str(refused))
        return redirect("continuity:dashboard")
    messages.success(request, "Downtime ended.")
    return redirect("continuity:dashboard")


@require_GET
@requires(Perm.CONTINUITY_STATUS_READ)
def schedule_page(request: HttpRequest) -> HttpResponse:
    """The periodic jobs (ADR 1504): cadence, last run, next due, and what is
    overdue or failed; Run now for those who may (ADR 1505)."""
    from datetime import timedelta

    from safeward import clock
    from safeward.continuity import conf

    now = clock.now()
    grace = timedelta(minutes=conf.schedule_grace_minutes())
    rows = [(state, state.due(now), state.overdue(now, grace)) for state in selectors.schedule_states()]
    return render(
        request,
        "continuity/schedule.html",
        {
            "rows": rows,
            "grace_minutes": conf.schedule_grace_minutes(),
            "can_run": _actor(request).has_perm(Perm.CONTINUITY_SCHEDULE_RUN),
        },
    )


@require_POST
@requires(Perm.CONTINUITY_SCHEDULE_RUN)
def schedule_run(request: HttpRequest, job: str) -> HttpResponse:
    """Run one job now, as `safeward schedule run-due --only JOB --force`
    does, in this request: the run's row and audit events name the operator."""
    from safeward.continuity import schedule
    from safeward.continuity.models import ScheduledRun

    if job not in schedule.BY_CODE:
        raise Http404("No such job.")
    runs = services.schedule_run_due(actor=_actor(request), only=[job], force=True)
    if not runs:
        messages.error(request, f"{job} is running already; its row shows when it ends.")
    elif runs[0].outcome == ScheduledRun.Outcome.SUCCEEDED:
        note = runs[0].note
        said = f"{job} succeeded in {runs[0].duration_seconds:.1f} s."
        messages.success(request, format_html("{} {}", said, code_spans(note)) if note else said)
    elif runs[0].outcome == ScheduledRun.Outcome.WAITING:
        reason = schedule.WAITING_REASONS.get(runs[0].error, "")
        messages.warning(request, format_html("{} is waiting: {}", job, code_spans(reason)))
    else:
        messages.error(
            request,
            format_html(
                "{} failed (exit {}, {}); run <code>safeward schedule run-due --only {} --force</code> "
                "on the server to see its output.",
                job,
                runs[0].exit_code,
                runs[0].error,
                job,
            ),
        )
    return redirect("continuity:schedule")


@require_GET
@requires(Perm.CONTINUITY_KIT_READ)
def kits(request: HttpRequest) -> HttpResponse:
    """The downtime kits of the person's own department's wards."""
    from safeward.identity.selectors import user_department_id

    units = selectors.kit_units_for_department(department_id=user_department_id(user=_actor(request)))
    rows = [(unit, selectors.kit_last(unit=unit)) for unit in units]
    return render(
        request,
        "continuity/kits.html",
        {"rows": rows, "downtime": selectors.downtime_active_cached()},
    )


@require_GET
@requires(Perm.CONTINUITY_KIT_READ)
def kit_download(request: HttpRequest, ward_code: str) -> HttpResponse:
    """The ward's newest kit, encrypted (it opens on the ward's downtime
    workstation), during declared downtime, for the ward's own staff. Any
    other ward, or no downtime, is a 404 (the same answer for both)."""
    from safeward.audit.manifests import ManifestDraft, manifest_response
    from safeward.identity.selectors import user_department_id

    user = _actor(request)
    unit = selectors.kit_unit_by_code(ward_code=ward_code)
    if (
        unit is None
        or selectors.downtime_active_cached() is None
        or unit.department_id != user_department_id(user=user)
    ):
        raise Http404("No kit to download here.")
    last = selectors.kit_last(unit=unit)
    try:
        data = services.kit_file_bytes(unit=unit, kit=last)
    except services.KitRefused:
        raise Http404("No kit to download here.") from None
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{last.file_name if last else "kit.swk"}"'
    services.kit_download_record(actor=user, unit=unit)
    return manifest_response(
        response,
        actor=user,
        draft=ManifestDraft(
            kind="document",
            route="continuity:kit_download",
            purpose="HOPERAT",
            detail={"recipient": f"ward:{unit.ward_code}", "encrypted": "yes"},
        ),
    )


@require_GET
@requires(Perm.CONTINUITY_STATUS_READ)
def bia(request: HttpRequest) -> HttpResponse:
    from safeward.continuity.bia import impact_analysis

    return render(request, "continuity/bia.html", {"impacts": impact_analysis()})


@require_http_methods(["GET", "POST"])
@requires(Perm.CONTINUITY_KIT_READ)
def recovery(request: HttpRequest) -> HttpResponse:
    """The reconciliation queue: paper entries to back-enter and verify."""
    from safeward.continuity.forms import PaperEntryForm

    form = PaperEntryForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.paper_entry_record(
                    actor=_actor(request),
                    downtime=form.cleaned_data["downtime"],
                    encounter_number=form.cleaned_data["encounter_number"],
                    kind=form.cleaned_data["kind"],
                    occurred_at=form.cleaned_data["occurred_at"],
                    performed_by=form.cleaned_data["performed_by"],
                )
            except services.RecoveryRefused as refused:
                form.add_error(None, str(refused))
            else:
                messages.success(request, "Queued: a second person verifies it.")
                return redirect("continuity:recovery")
        status = 400
    return _recovery_page(request, form=form, status=status)


def _recovery_page(
    request: HttpRequest,
    *,
    form: Any = None,
    status: int = 200,
    chart_error: str = "",
    pick: dict[str, Any] | None = None,
) -> HttpResponse:
    """The recovery page; `pick` opens one entry's chart form with the patient
    search's matches (ADR 1416) or a chart refusal kept with what was typed."""
    from safeward.clinical.types import ADMINISTRATION_ROUTES
    from safeward.continuity.forms import PAPER_VITALS, PaperEntryForm

    return render(
        request,
        "continuity/recovery.html",
        {
            "form": form or PaperEntryForm(),
            "queue": selectors.paper_entries(state="queued")[:200],
            "me": _actor(request),
            "chart_error": chart_error,
            "pick": pick or {},
            "vitals": [
                (f"vital_{n}", f"{display} ({unit})") for n, (_c, display, unit) in enumerate(PAPER_VITALS)
            ],
            "routes": ADMINISTRATION_ROUTES,
        },
        status=status,
    )


def _errors(form: Any) -> str:
    return "; ".join(
        f"{form.fields[name].label}: {' '.join(str(e) for e in errors)}"
        if name in form.fields
        else " ".join(str(e) for e in errors)
        for name, errors in form.errors.items()
    )


@require_POST
@requires(Perm.CONTINUITY_KIT_READ)
def recovery_patient_search(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Find the patient of a paper record by MRN, or name and date of birth,
    through the gateway's audited search (posted: nothing in the URL, ADR 0540)."""
    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway
    from safeward.clinical.types import SessionContext
    from safeward.continuity.forms import PatientPickForm

    entry = selectors.paper_entry_by_id(entry_id=entry_id)
    if entry is None:
        raise Http404("No such entry.")
    form = PatientPickForm(request.POST)
    if not form.is_valid():
        return _recovery_page(request, status=400, pick={"entry": entry.pk, "error": _errors(form)})
    try:
        found = gateway.patient_search(
            actor=_actor(request),
            session=SessionContext.from_request(request),
            purpose=PurposeOfUse.TREATMENT,
            mrn=form.cleaned_data["mrn"].strip() or None,
            name=form.cleaned_data["name"].strip() or None,
            birth_date=form.cleaned_data["birth_date"],
        )
    except gateway.InvalidInput as refused:
        return _recovery_page(request, status=400, pick={"entry": entry.pk, "error": str(refused)})
    except gateway.Forbidden:
        # The chart's policy: patients are searched from a clinical workstation (its event is recorded).
        refusal = "You may not search patients from here: use a workstation in a clinical area."
        return _recovery_page(request, status=403, pick={"entry": entry.pk, "error": refusal})
    matches = [patient for patient in found.results if not patient.restricted]
    note = ""
    if not matches:
        note = "No patient found that you may chart for."
        if found.narrowed:
            note += " A name alone finds only your own patients: add the date of birth or the MRN."
    elif found.capped:
        note = "More patients match than shown: narrow the search."
    return _recovery_page(request, pick={"entry": entry.pk, "matches": matches, "note": note})


@require_POST
@requires(Perm.CONTINUITY_KIT_READ)
def recovery_verify(request: HttpRequest, entry_id: int) -> HttpResponse:
    from safeward.clinical.types import SessionContext

    entry = selectors.paper_entry_by_id(entry_id=entry_id)
    if entry is None:
        raise Http404("No such entry.")
    try:
        services.paper_entry_verify(
            actor=_actor(request), entry=entry, session=SessionContext.from_request(request)
        )
    except services.RecoveryRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "Verified.")
    return redirect("continuity:recovery")


@require_POST
@requires(Perm.CONTINUITY_KIT_READ)
def recovery_chart(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Enter a queued paper record into the chart as a late entry (ADR 1412),
    vital signs as measurements at the original time (ADR 1415), medication
    given as doses against its orders (ADR 1419)."""
    from safeward.clinical.types import SessionContext
    from safeward.continuity.forms import PaperChartForm, PaperMarForm, PaperVitalsForm

    entry = selectors.paper_entry_by_id(entry_id=entry_id)
    if entry is None:
        raise Http404("No such entry.")
    session = SessionContext.from_request(request)
    vitals = entry.kind == PaperEntry.Kind.VITAL_SIGNS
    mar = entry.kind == PaperEntry.Kind.MEDICATION_GIVEN
    form: PaperChartForm | PaperVitalsForm | PaperMarForm
    if vitals:
        form = PaperVitalsForm(request.POST)
    elif mar:
        form = PaperMarForm(request.POST)
    else:
        form = PaperChartForm(request.POST)
    error, unusual = "", False
    if not form.is_valid():
        error = _errors(form)
    else:
        try:
            if isinstance(form, PaperMarForm):
                services.paper_mar_chart(
                    actor=_actor(request),
                    session=session,
                    entry=entry,
                    patient_id=form.cleaned_data["patient_id"],
                    doses=form.doses(),
                    encounter_id=form.cleaned_data["encounter_id"] or None,
                )
            elif isinstance(form, PaperVitalsForm):
                services.paper_vitals_chart(
                    actor=_actor(request),
                    session=session,
                    entry=entry,
                    patient_id=form.cleaned_data["patient_id"],
                    vitals=form.vitals(),
                    confirmed=form.cleaned_data["confirmed"],
                    encounter_id=form.cleaned_data["encounter_id"] or None,
                )
            else:
                services.paper_entry_chart(
                    actor=_actor(request),
                    session=session,
                    entry=entry,
                    patient_id=form.cleaned_data["patient_id"],
                    text=form.cleaned_data["text"],
                    encounter_id=form.cleaned_data["encounter_id"] or None,
                )
        except services.VitalsNeedConfirmation as check:
            error, unusual = str(check), True
        except services.RecoveryRefused as refused:
            error = str(refused)
        else:
            if vitals:
                done = "as measurements at the original time"
            elif mar:
                done = "as a dose given at the original time"
            else:
                done = "as a late entry"
            messages.success(request, f"Entered into the chart {done}; a second person verifies it.")
            return redirect("continuity:recovery")
    # Keep what was typed (never re-asked from the paper): the same entry's form opens again.
    return _recovery_page(
        request,
        status=400,
        chart_error=error,
        pick={"entry": entry.pk, "typed": form.data, "confirm": unusual},
    )


@require_GET
@requires(Perm.CONTINUITY_STATUS_READ)
def recovery_report(request: HttpRequest) -> HttpResponse:
    """Everything back-entered after downtimes, with who did, entered and verified it."""
    return render(request, "continuity/recovery_report.html", {"entries": selectors.paper_entries()[:2000]})
