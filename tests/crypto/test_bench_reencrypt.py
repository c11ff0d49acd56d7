"""bench/crypto_reencrypt.py reports a run whose reader process wrote nothing
(it was terminated before it had loaded its records: tiny --records, heavy
load) instead of ending in a traceback, and reads a cut-off last line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import crypto_reencrypt  # type: ignore[import-not-found]  # bench/ is a folder of scripts

RATES = {"previous": [1000.0, 1200.0], "batched": [2200.0, 2400.0]}
WINDOWS: dict[str, list[tuple[float, float]]] = {
    "idle": [(0.0, 10.0)],
    "previous": [(10.0, 20.0)],
    "batched": [],
}


def test_a_reader_that_wrote_no_file_is_reported_not_a_traceback(tmp_path, capsys):
    samples = crypto_reencrypt.reader_samples(tmp_path / "reads.txt")
    assert samples == []
    crypto_reencrypt.report(argparse.Namespace(records=10, blind=False), samples, WINDOWS, RATES)
    out = capsys.readouterr().out
    assert "reader produced no samples" in out
    assert "reads while idle    : no samples" in out
    assert "batched / previous (median rates): 2.09x" in out


def test_the_samples_are_read_and_a_line_cut_off_by_the_termination_is_left_out(tmp_path, capsys):
    reads = tmp_path / "reads.txt"
    reads.write_text("1.5 0.002000\n12.0 0.004000\n\n13.0 0.0\n14.0", encoding="ascii")
    samples = crypto_reencrypt.reader_samples(reads)
    assert samples == [(1.5, 0.002), (12.0, 0.004), (13.0, 0.0)]
    crypto_reencrypt.report(argparse.Namespace(records=10, blind=True), samples, WINDOWS, RATES)
    out = capsys.readouterr().out
    assert "reader produced no samples" not in out
    assert "values per round: 100" in out
    assert "reads while idle    : median   2.00 ms" in out
