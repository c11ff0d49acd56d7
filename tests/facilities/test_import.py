"""Door-event import: CSV and JSON, all or nothing with row numbers, times with
their zone; the CLI `safeward facilities import-badges`; the syslog listener on
real localhost sockets (UDP and TCP)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from safeward.detection.models import Alert
from safeward.facilities import importer, services
from safeward.facilities.models import DoorEvent
from safeward.facilities.syslog import Listener

pytestmark = pytest.mark.django_db

CSV = """credential_id,door,area,time,result,direction
B-100,RR-1,records,2026-11-02T10:00:00-05:00,granted,in
B-100,RR-1,records,2026-11-02T10:20:00-05:00,granted,out
"""


def test_csv_and_json_import(clerk, tmp_path):
    path = tmp_path / "doors.csv"
    path.write_text(CSV)
    call_command("facilities", "import-badges", str(path))
    events = list(DoorEvent.objects.order_by("occurred_at"))
    assert [(e.credential_id, e.person_id, e.direction) for e in events] == [
        ("B-100", clerk.pk, "in"),
        ("B-100", clerk.pk, "out"),
    ]
    assert events[0].occurred_at.isoformat() == "2026-11-02T15:00:00+00:00"
    data = {
        "events": [
            {
                "credential_id": "B-100",
                "door": "RR-1",
                "area": "records",
                "time": "2026-11-02T16:00:00Z",
                "result": "granted",
                "direction": "in",
            }
        ]
    }
    json_path = tmp_path / "doors.json"
    json_path.write_text(json.dumps(data))
    call_command("facilities", "import-badges", str(json_path))
    assert DoorEvent.objects.count() == 3


def test_bad_rows_import_nothing_and_are_named_by_row(clerk, tmp_path, capsys):
    path = tmp_path / "doors.csv"
    path.write_text(
        CSV
        + "B-100,XX-9,records,2026-11-02T11:00:00-05:00,granted,in\n"
        + "B-100,RR-1,pharmacy,2026-11-02T11:00:00,maybe,sideways\n"
    )
    with pytest.raises(CommandError, match="2 row error"):
        call_command("facilities", "import-badges", str(path))
    err = capsys.readouterr().err
    assert "row 4: door is not a known door code" in err
    assert "row 5: area does not match door RR-1" in err
    assert "time needs a time zone offset" in err
    assert "result must be granted or denied" in err
    assert "direction must be in or out" in err
    assert DoorEvent.objects.count() == 0


def test_malformed_files_are_refused_clearly(areas):
    for data, message in [
        (b"\xff\xfe", "not UTF-8"),
        (b"[{", "not valid JSON"),
        (b'{"rows": []}', "JSON must be a list"),
        (b"who,when\nB,1\n", "the CSV header lacks"),
    ]:
        with pytest.raises(services.ImportRejected) as caught:
            importer.rows_from_bytes(data, name="x")
        assert message in caught.value.errors[0]
    _parsed, errors = services.parse_rows([[1, 2], {"credential_id": "x" * 65}])
    assert errors[0].startswith("row 1: not an object")
    assert "credential_id is required" in errors[1]


def test_the_cli_names_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        call_command("facilities", "import-badges", str(tmp_path / "nope.csv"))


def test_syslog_line_format():
    line = (
        "<134>1 2026-11-02T10:00:00Z ctl-7 doorsvc - - - DOOR cred=B-1 door=RR-1 area=records"
        " time=2026-11-02T10:00:00-05:00 result=granted dir=in"
    )
    assert importer.parse_syslog_line(line) == {
        "credential_id": "B-1",
        "door": "RR-1",
        "area": "records",
        "time": "2026-11-02T10:00:00-05:00",
        "result": "granted",
        "direction": "in",
    }
    assert importer.parse_syslog_line("<13> kernel: link up") is None


def _line(credential, door, when, result="granted"):
    return f"<134>ctl DOOR cred={credential} door={door} time={when} result={result} dir=in\n".encode()


def _send_later(send):
    """The listener serves in this thread (it writes to the test's database);
    a controller sends from another thread through a real socket."""
    thread = threading.Thread(target=lambda: (time.sleep(0.2), send()))
    thread.start()
    return thread


def test_syslog_listener_over_udp(clerk):
    listener = Listener(host="127.0.0.1", port=0, protocol="udp", flush_seconds=0.2)

    def send():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(_line("B-100", "PH-1", "2026-11-02T10:00:00-05:00"), listener.address)
            sender.sendto(b"<13> not a door line\n", listener.address)
            sender.sendto(_line("B-100", "ZZ-0", "2026-11-02T10:00:00-05:00"), listener.address)

    try:
        thread = _send_later(send)
        stats = listener.serve(seconds=1.5)
        thread.join()
    finally:
        listener.close()
    assert (stats.received, stats.ingested, stats.rejected) == (3, 1, 2)
    assert list(Alert.objects.values_list("rule", flat=True)) == ["badge_unauthorised_entry"]


def test_syslog_listener_over_tcp_with_lines_split_across_packets(clerk):
    listener = Listener(host="127.0.0.1", port=0, protocol="tcp", flush_seconds=0.2)
    data = _line("B-100", "RR-1", "2026-11-02T10:00:00-05:00") + _line(
        "B-100", "RR-1", "2026-11-02T10:05:00-05:00"
    )

    def send():
        with socket.create_connection(listener.address) as client:
            client.sendall(data[:30])
            time.sleep(0.1)
            client.sendall(data[30:])

    try:
        thread = _send_later(send)
        stats = listener.serve(seconds=1.5)
        thread.join()
    finally:
        listener.close()
    assert stats.ingested == 2
    assert DoorEvent.objects.filter(source="syslog:tcp").count() == 2


def test_the_syslog_command_reports_a_port_in_use():
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(CommandError, match="Cannot listen"):
            call_command("facilities", "syslog", "--port", str(holder.getsockname()[1]), "--seconds", "0.1")
    finally:
        holder.close()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite text form of an instant")
def test_the_ingest_writes_instants_as_djangos_sqlite_backend_does():
    # The natural key compares stored text: an event inserted by the ingest
    # (ADR 1116) and one saved through the ORM must be the same string.
    berlin = dt.timezone(dt.timedelta(hours=1))
    for moment in (
        dt.datetime(2026, 3, 8, 2, 10, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 8, 2, 10, 0, 50_000, tzinfo=berlin),
        dt.datetime(2026, 11, 1, 1, 30, 59, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ):
        assert services.sqlite_instant(moment) == connection.ops.adapt_datetimefield_value(moment)
