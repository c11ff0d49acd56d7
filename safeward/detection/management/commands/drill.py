"""`safeward drill ...`: attack drills against the running system.

    safeward drill list
    safeward drill setup                      # drill accounts and decoy patients, nothing else
    safeward drill run SCENARIO... | all [--base-url URL] [--timeout S] [--ca-file PEM | --insecure]
                                          [--exercise ID]
    safeward drill cleanup                    # end drill break-glass grants, disable drill accounts

`run` replays each attack over HTTP(S) against the server at --base-url
(default: the demo, https://127.0.0.1:8443, trusting var/tls/cert.pem when it
exists), waits for the detection worker's alerts and prints, per scenario,
whether it was detected, by which rules and how many seconds after the first
malicious event. The run is evidence on the quarter's detection-drill
exercise, or on the open exercise named with --exercise (ADR 1417). Exit
status 1 when a scenario was not detected (or its alerts are not marked as
drill), 2 on bad arguments. See docs/drills.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward import clock
from safeward.detection.drills import accounts, runner
from safeward.detection.drills.client import tls_context
from safeward.detection.drills.scenarios import SCENARIOS, DrillContext, mass_lookup_size
from safeward.detection.triage import TriageError

DEFAULT_BASE_URL = "https://127.0.0.1:8443"


class Command(BaseCommand):
    help = "Attack drills: list, setup, run SCENARIO..., cleanup (docs/drills.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="the scenarios and the rules expected to catch each")
        sub.add_parser("setup", help="create the drill accounts' decoy patients ahead of a run")
        sub.add_parser("cleanup", help="end drill break-glass grants and disable the drill accounts")
        run = sub.add_parser("run", help="replay scenarios against the running server")
        run.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario codes, or all")
        run.add_argument("--base-url", default=DEFAULT_BASE_URL, help=f"default {DEFAULT_BASE_URL}")
        run.add_argument(
            "--timeout", type=float, default=30.0, help="seconds to wait for alerts (default 30)"
        )
        run.add_argument("--ca-file", type=Path, help="CA certificate to trust (default: var/tls/cert.pem)")
        run.add_argument(
            "--insecure", action="store_true", help="do not verify the server certificate (demo only)"
        )
        run.add_argument(
            "--exercise",
            type=int,
            metavar="ID",
            help="attach the run to this open exercise (default: the quarter's detection-drill exercise)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list()
        elif action == "setup":
            self._setup()
        elif action == "cleanup":
            self._cleanup()
        else:
            self._run(options)

    def say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _list(self) -> None:
        for scenario in SCENARIOS.values():
            self.say(f"{scenario.code:22} {scenario.summary}")
            self.say(f"{'':22} expected: {', '.join(scenario.expected)}")

    def _setup(self) -> None:
        from safeward.detection.drills.scenarios import COLLEAGUE

        ctx = DrillContext(base_url="", tls=None, say=self.say, rule_params=runner.rule_params())
        size = max(mass_lookup_size(ctx), int(ctx.param("break_glass_repeat", "threshold")))
        accounts.decoy_ensure(COLLEAGUE)
        accounts.pool_ensure(size)
        self.say(f"drill decoys ready: the colleague and {size} pool patients (canary labels drill:...)")

    def _cleanup(self) -> None:
        ended, disabled = runner.finish()
        self.say(f"break-glass grants ended: {ended}; drill accounts disabled: {disabled}")

    def _run(self, options: dict[str, Any]) -> None:
        try:
            codes = runner.scenario_codes(options["scenarios"])
        except KeyError as unknown:
            raise CommandError(
                f"unknown scenario {unknown}; choose from: {', '.join(SCENARIOS)} or all", returncode=2
            ) from None
        timeout = float(options["timeout"])
        if not 1 <= timeout <= 3600:
            raise CommandError("--timeout must be between 1 and 3600 seconds", returncode=2)
        base_url = str(options["base_url"]).rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise CommandError("--base-url must start with http:// or https://", returncode=2)
        tls = None
        if base_url.startswith("https://"):
            cafile = options["ca_file"]
            default_ca = Path(settings.VAR_DIR) / "tls" / "cert.pem"
            if cafile is None and default_ca.exists():
                cafile = default_ca
            if cafile is not None and not Path(cafile).is_file():
                raise CommandError(f"--ca-file {cafile}: no such file", returncode=2)
            tls = tls_context(cafile=str(cafile) if cafile else None, insecure=options["insecure"])
        exercise = options.get("exercise")
        if exercise is not None:
            try:
                runner.exercise_check(exercise)
            except TriageError as refused:
                raise CommandError(f"--exercise {exercise}: {refused}", returncode=2) from None
        self.say(f"drill against {base_url}: {', '.join(codes)}")
        ctx = DrillContext(base_url=base_url, tls=tls, say=self.say, rule_params=runner.rule_params())
        results = []
        started_at = clock.now()
        first_watermark = runner.audit_watermark()
        try:
            for code in codes:
                results.append(
                    runner.run_scenario(
                        SCENARIOS[code], base_url=base_url, tls=tls, timeout=timeout, say=self.say, ctx=ctx
                    )
                )
        finally:
            ended, disabled = runner.finish()
            self.say(f"drill accounts disabled again ({disabled}); break-glass grants ended ({ended})")
        self.say("")
        for line in runner.summary_table(results):
            self.say(line)
        if any(result.missing for result in results):
            hint = runner.worker_hint(first_watermark)
            if hint:
                self.say(hint)
        # Every run, passed or not, is evidence on the quarter's detection-drill exercise (ADR 1414)
        # or on the one named (ADR 1417).
        try:
            run = runner.run_record(results, at=started_at, exercise_id=exercise)
        except TriageError as refused:  # closed while the drill ran
            raise CommandError(
                f"the drill ran but was not recorded: {refused} Attach it by hand with "
                "`safeward incidents attach-drill`.",
                returncode=1,
            ) from None
        self.say(
            f"drill run {run.ref} recorded as evidence on "
            + (f"exercise #{exercise}" if exercise is not None else "the quarter's detection-drill exercise")
        )
        failed = [result.code for result in results if not result.passed]
        if failed:
            raise CommandError(f"not detected or not marked as drill: {', '.join(failed)}", returncode=1)
        self.say(f"all {len(results)} scenario(s) detected")
