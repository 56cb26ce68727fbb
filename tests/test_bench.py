"""bench/bench_rnn.py runs and prints well-formed ratios (no timed assertions: a shared machine's
timings are noise at these sizes)."""

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "bench_rnn.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_rnn", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_run():
    """One run of the script on a tiny grid, one repeat, every layer, with both extra columns."""
    cmd = [sys.executable, str(SCRIPT), "--sizes", "3x4x2x5,2x3x4x6", "--repeats", "1",
           "--warmup", "0", "--threads", "1", "--device", "cpu", "--no-reference", "--before",
           "--generic"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          cwd=SCRIPT.parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_lnn_layer_is_benched_against_a_torch_layer(bench):
    import torch

    from lstm_lib import nn as lnn

    names = {name for name, _ in bench.LAYERS}
    assert {"RNN", "LSTM", "GRU", "PeepholeLSTM", "CIFG", "MinGRU", "MinLSTM", "SLSTM"} <= names
    assert {f"LSTM:{v}" for v in lnn.VARIANTS} <= names
    for name, theirs in bench.LAYERS:
        layer = bench.make_layer(lnn, name, 3, 5)
        assert type(layer).__name__ == name.partition(":")[0]
        assert getattr(layer, "variant", None) == (name.partition(":")[2] or None)
        assert issubclass(getattr(torch.nn, theirs), torch.nn.RNNBase)


def test_the_grid_spans_the_issue_sizes(bench):
    assert bench.SIZES[0] == (64, 100, 2, 32) and bench.SIZES[-1] == (64, 100, 512, 512)
    assert bench.parse_args([]).threads == [1, 2]


def test_ratio_table_is_well_formed(bench, tiny_run):
    blocks = tiny_run.split("#### ")
    summary = next(b for b in blocks if b.startswith("cpu (1 thread): lnn/torch"))
    rows = [line for line in summary.splitlines() if line.startswith("| ") and " / " in line]
    assert [r.split("|")[1].strip() for r in rows] == [name for name, _ in bench.LAYERS]
    ratios = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")][2:]
        assert len(cells) == 2  # two sizes
        for cell in cells:
            train, infer = (float(v) for v in cell.split(" / "))
            ratios += [train, infer]
    assert all(math.isfinite(r) and r > 0 for r in ratios)
    above = re.search(r"Ratios above 1.0: (\d+) of (\d+)\.", summary)
    assert above and int(above[2]) == len(ratios)
    assert int(above[1]) == sum(r > 1.0 for r in ratios)


def test_the_count_above_one_is_the_count_of_printed_ratios_above_one(bench):
    # a ratio of 1.004 prints as 1.00 and is not counted; 1.006 prints as 1.01 and is
    rows = [{"size": (1, 2, 3, 4), "layer": "LSTM", "torch": "LSTM",
             "train": {"torch": 1.0, "lnn": 1.004}, "infer": {"torch": 1.0, "lnn": 1.006}}]
    summary = bench.ratio_table(rows, "cpu (1 thread)")
    assert "| LSTM | LSTM | 1.00 / 1.01 |" in summary
    assert "Ratios above 1.0: 1 of 2." in summary


def test_detail_table_has_every_column(bench, tiny_run):
    detail = next(b for b in tiny_run.split("#### ") if b.startswith("cpu (1 thread): every"))
    lines = [line for line in detail.splitlines() if re.match(r"\| \(\d", line)]
    assert len(lines) == 2 * len(bench.LAYERS)
    header = next(line for line in detail.splitlines() if line.startswith("| (B, T"))
    for column in ("infer: before/torch", "infer: generic/torch", "train: generic/torch"):
        assert column in header
    for line in lines:
        cells = line.strip("|").split("|")
        assert len(cells) == header.strip("|").count("|") + 1
        assert all(float(c.strip().strip("*")) > 0 for c in cells[3:])
    assert "Machine:" in tiny_run and "torch threads 1" in tiny_run


@pytest.mark.parametrize("parse, text, match", [
    ("parse_sizes", "64x100x2", "B x T x X x H"),
    ("parse_sizes", "64x100x0x32", "B x T x X x H"),
    ("parse_threads", "0", "counts >= 1"),
    ("parse_threads", "one", "counts >= 1"),
])
def test_bad_arguments_are_named(bench, parse, text, match):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match=match):
        getattr(bench, parse)(text)


def test_unknown_layer_is_refused(bench):
    with pytest.raises(SystemExit, match="unknown layer"):
        bench.main(["--layers", "LSTM,Transformer", "--sizes", "1x1x1x1", "--threads", "1"])
