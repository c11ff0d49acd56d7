"""`safeward demo seed|serve|scale|totp`: the demo hospital. Demo mode only
(`scale` also runs on a benchmark database named explicitly)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.config import env
from safeward.demo import seed, server, tls


class Command(BaseCommand):
    help = "The demo hospital: `seed` it, `serve` it over HTTPS on loopback, or print a `totp` code."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{seed,serve,scale,totp}")
        actions.add_parser("seed", help="Create or refresh the demo hospital and its credentials file.")
        serve = actions.add_parser(
            "serve", help="Migrate, seed and serve the demo at https://127.0.0.1:8443/ (Ctrl-C stops)."
        )
        serve.add_argument(
            "--host", default=env.string("SAFEWARD_DEMO_HOST", "127.0.0.1"), help="Address to listen on."
        )
        serve.add_argument(
            "--port",
            type=int,
            default=env.integer("SAFEWARD_DEMO_HTTPS_PORT", 8443, minimum=1, maximum=65535),
            help="HTTPS port (default 8443, or SAFEWARD_DEMO_HTTPS_PORT).",
        )
        serve.add_argument(
            "--http-port",
            type=int,
            default=env.integer("SAFEWARD_DEMO_HTTP_PORT", 8080, minimum=0, maximum=65535),
            help="Plain-HTTP port that only redirects to HTTPS; 0 turns it off "
            "(default 8080, or SAFEWARD_DEMO_HTTP_PORT).",
        )
        serve.add_argument(
            "--workers",
            type=int,
            default=env.integer("SAFEWARD_DEMO_WORKERS", server.default_workers(), minimum=1, maximum=16),
            help="gunicorn worker processes (default 2-3).",
        )
        serve.add_argument("--threads", type=int, default=4, help="Threads per worker (default 4).")
        serve.add_argument(
            "--background",
            action="append",
            metavar="COMMAND",
            help="A `safeward` command to run alongside the server, e.g. 'audit seal --follow' "
            "(repeatable; replaces the default list).",
        )
        serve.add_argument("--no-background", action="store_true", help="Start no background commands.")
        serve.add_argument(
            "--schedule-minutes",
            type=int,
            default=env.integer(
                "SAFEWARD_DEMO_SCHEDULE_MINUTES", server.SCHEDULE_EVERY_MINUTES, minimum=0, maximum=1440
            ),
            help="Run the periodic jobs that are due (`safeward schedule run-due`) every N minutes "
            "while serving, as production's cron line does (default 5, or "
            "SAFEWARD_DEMO_SCHEDULE_MINUTES; 0 turns it off).",
        )
        scale = actions.add_parser(
            "scale", help="Add N synthetic patients (benchmarks): encrypted, indexed and audited in batches."
        )
        scale.add_argument("--patients", type=int, required=True, help="How many (1 to 1,000,000).")
        scale.add_argument("--batch-size", type=int, default=1000, help="Patients per transaction.")
        scale.add_argument(
            "--start", type=int, default=1, help="Number of the first patient (parallel loaders take ranges)."
        )
        scale.add_argument(
            "--benchmark-database",
            metavar="NAME",
            help="Outside demo mode: the name of the benchmark database in use (must start with 'bench').",
        )
        totp = actions.add_parser("totp", help="Print the current TOTP code of a demo user.")
        totp.add_argument("username", help="e.g. demo.physician")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "scale":
            self._scale(options)
            return
        try:
            seed.require_demo_mode()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        action = options["action"]
        if action == "seed":
            path = seed.seed_demo(write=lambda line: self.stdout.write(f"  {line}"))
            self.stdout.write(self.style.SUCCESS(f"Demo hospital seeded. Credentials: {path}"))
        elif action == "serve":
            self._serve(options)
        else:
            self._totp(options["username"])

    # --- scale -----------------------------------------------------------------

    def _scale(self, options: dict[str, Any]) -> None:
        from django.db import connection
        from tqdm import tqdm

        from safeward.demo import scale

        named: str | None = options["benchmark_database"]
        if named is not None:
            if not (named.startswith("bench") and named == connection.settings_dict["NAME"]):
                raise CommandError(
                    "--benchmark-database must name the database in use, "
                    "and its name must start with 'bench'."
                )
        else:
            try:
                seed.require_demo_mode()
            except ImproperlyConfigured as error:
                raise CommandError(
                    f"{error} Or pass --benchmark-database NAME for a benchmark database."
                ) from None
        total: int = options["patients"]
        batch_size: int = options["batch_size"]
        start: int = options["start"]
        if not 1 <= total <= 1_000_000 or not 1 <= start <= 1_000_000:
            raise CommandError("--patients and --start must be between 1 and 1,000,000.")
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10,000.")
        started = time.monotonic()
        with tqdm(total=total, unit="patient", file=sys.stderr, disable=None) as bar:
            totals = scale.generate(
                patients=total,
                start=start,
                batch_size=batch_size,
                progress=lambda counts: bar.update(counts["Patient"] + counts["skipped"]),
            )
        elapsed = max(time.monotonic() - started, 1e-9)
        written = totals.get("Patient", 0)
        summary = ", ".join(f"{k} {v}" for k, v in totals.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Scale data: {summary} in {elapsed:.1f} s ({written / elapsed:.0f} patients/s written)."
            )
        )

    # --- totp ------------------------------------------------------------------

    def _totp(self, username: str) -> None:
        from allauth.mfa import app_settings
        from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

        entry = seed.load_credentials(seed.credentials_path()).get(username)
        if entry is None:
            raise CommandError(f"No demo user {username!r} in {seed.credentials_path()}.")
        counter = int(time.time()) // app_settings.TOTP_PERIOD
        self.stdout.write(format_hotp_value(hotp_value(str(entry["totp_secret"]), counter)))

    # --- serve -----------------------------------------------------------------

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _serve(self, options: dict[str, Any]) -> None:
        host: str = options["host"]
        https_port: int = options["port"]
        http_port: int = options["http_port"]
        for port in {https_port, http_port} - {0}:
            if not server.port_free(host, port):
                raise CommandError(
                    f"Port {port} on {host} is in use (another demo still running?). "
                    "Stop it, or choose other ports with --port / --http-port."
                )
        if http_port == https_port:
            raise CommandError("--http-port must differ from --port.")
        schedule_minutes: int = options["schedule_minutes"]
        if not 0 <= schedule_minutes <= 1440:
            raise CommandError("--schedule-minutes must be between 0 (off) and 1440.")
        if host not in {"127.0.0.1", "::1", "localhost"}:
            self._say(
                self.style.WARNING(
                    f"Warning: listening on {host}, not loopback. The demo's credentials are in a file "
                    "and its data is synthetic; keep it off networks other people use. Add the host "
                    "name to SAFEWARD_ALLOWED_HOSTS, or requests are refused."
                )
            )
        var_dir = Path(settings.VAR_DIR)
        var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

        self._say("==> Preparing the database (migrate, cache table)")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        self._say("==> Collecting static files")
        call_command("collectstatic", interactive=False, verbosity=0)
        self._say("==> Seeding the demo hospital")
        credentials = seed.seed_demo(write=lambda line: self._say(f"    {line}"))

        names = tuple(dict.fromkeys((host, *tls.DEFAULT_NAMES)))
        tls_files = tls.ensure_certificate(var_dir / "tls", names)
        if tls_files.created:
            self._say(f"==> Created a self-signed certificate for {', '.join(names)}")
        secret_key_file: Path | None = None
        if not (os.environ.get("SAFEWARD_SECRET_KEY") or os.environ.get("SAFEWARD_SECRET_KEY_FILE")):
            secret_key_file = var_dir / "secret-key"
            if tls.ensure_secret_key(secret_key_file):
                self._say(f"==> Created a secret key in {secret_key_file}")
        child_env = server.child_environment(os.environ, var_dir=var_dir, secret_key_file=secret_key_file)

        display_host = f"[{host}]" if ":" in host else host
        base_url = f"https://{display_host}:{https_port}"
        background = (
            []
            if options["no_background"]
            else server.available_background_commands(
                options["background"] or server.DEFAULT_BACKGROUND_COMMANDS,
                warn=lambda line: self._say(f"    note: {line}"),
            )
        )

        supervisor = server.Supervisor(env=child_env, say=self._say)
        supervisor.install_signal_handlers()
        ticker = (
            server.ScheduleTicker(
                argv=server.python_command("schedule", "run-due"),
                env=child_env,
                every=schedule_minutes * 60.0,
                say=self._say,
                summarize=server.schedule_tick_summary,
            )
            if schedule_minutes
            else None
        )
        redirect: server.RedirectServer | None = None
        exit_code = 1
        try:
            self._say(f"==> Starting gunicorn ({options['workers']} workers, TLS) on {base_url}/")
            gunicorn = supervisor.start(
                "gunicorn",
                server.gunicorn_argv(
                    host=host,
                    port=https_port,
                    certfile=tls_files.certificate,
                    keyfile=tls_files.key,
                    workers=options["workers"],
                    threads=options["threads"],
                ),
                cwd=Path(settings.BASE_DIR),
            )
            if http_port:
                redirect = server.start_redirect_server(host, http_port, base_url)
            for argv in background:
                supervisor.start(" ".join(argv), server.python_command(*argv), cwd=Path(settings.BASE_DIR))
            ready = server.wait_until_ready(
                host=host,
                port=https_port,
                certfile=tls_files.certificate,
                alive=lambda: gunicorn.poll() is None and not supervisor.stopping.is_set(),
            )
            if supervisor.stopping.is_set():
                exit_code = 0
            elif not ready:
                self._say(self.style.ERROR("The server did not come up; see the messages above."))
            else:
                self._summary(
                    base_url,
                    http_port,
                    host,
                    credentials,
                    tls_files.certificate,
                    background,
                    schedule_minutes,
                )
                if ticker is not None:
                    ticker.start()
                exit_code = supervisor.watch("gunicorn")
        finally:
            self._say("==> Stopping")
            if ticker is not None:
                ticker.stop()
            if redirect is not None:
                redirect.shutdown()
                redirect.server_close()
            supervisor.stop_all()
            self._say("Stopped.")
        if exit_code:
            raise CommandError("The demo server stopped with an error.")

    def _summary(
        self,
        base_url: str,
        http_port: int,
        host: str,
        credentials: Path,
        certificate: Path,
        background: list[list[str]],
        schedule_minutes: int,
    ) -> None:
        entries = seed.load_credentials(credentials)
        width = max((len(name) for name in entries), default=0)
        users = "\n".join(
            f"      {name.ljust(width)}  {entry.get('role_name', '')}" for name, entry in entries.items()
        )
        example = next(iter(entries), "demo.physician")
        http_line = (
            f"\n                 (http://{host}:{http_port}/ only redirects there)" if http_port else ""
        )
        workers = ", ".join(" ".join(argv) for argv in background) or "none"
        periodic = (
            f"safeward schedule run-due every {schedule_minutes} min (production: cron)"
            if schedule_minutes
            else "off (--schedule-minutes 0)"
        )
        self._say(
            self.style.SUCCESS("\nSafeWard demo hospital is running.\n")
            + f"""
  Sign in at     {base_url}/{http_line}
  Credentials    {credentials}
                 username, password, role and TOTP secret (plus an otpauth:// URI
                 for an authenticator app) for each demo user; readable by you only.
  One-time code  scan the otpauth:// URI into an authenticator app, or print the
                 current code:  ./run demo totp {example}
  Certificate    self-signed ({certificate}); your browser warns once.
  Background     {workers}
  Periodic jobs  {periodic}
  Demo users
{users}

  Demo only: synthetic data, published credentials. Press Ctrl-C to stop.
"""
        )
