"""Speed of ``lstm_lib.nn`` against ``torch.nn``, as ratios measured in the same run.

For each size (B, T, X, H) = (batch, time, input, hidden), each thread count and each layer it
times

* a training step: forward, ``loss = mean(output²)``, backward, one Adam step;
* inference: the forward pass under ``torch.no_grad()``;

for every ``lstm_lib.nn`` layer (RNN, LSTM, GRU, PeepholeLSTM, CIFG, the six Greff ablations
``LSTM:NIG`` ... ``LSTM:FGR``, MinGRU, MinLSTM, SLSTM) against the closest ``torch.nn`` layer
(``torch.nn.RNN`` for the RNN, ``torch.nn.GRU`` for the GRU and MinGRU, ``torch.nn.LSTM`` for the
rest). The calls are interleaved (torch, lnn, torch, ...) so that both see the same machine load,
and each figure is the median over the repeats after warm-up. It prints the ratios
lnn time / torch time: on a shared machine the ratios are the meaningful figures, the absolute
times are not. ``--before`` adds a column for lnn with the inference shortcuts of
:mod:`lstm_lib.nn.inference` off (the behaviour before issue 15), ``--generic`` one for
``lnn.fast_path(False)`` (the generic time loop), ``--python`` one for lnn with the compiled
loops of :mod:`lstm_lib.nn.compiled` off (the fused path's Python loops). Finally it times
the numpy reference LSTM's forward and hand-written backward against torch autograd (CPU,
float64, a small size).

    python bench/bench_rnn.py                        # every size, 1 and 2 threads, cpu (+ cuda)
    python bench/bench_rnn.py --quick                # two small sizes, few repeats
    python bench/bench_rnn.py --device cpu --threads 1 --layers LSTM,CIFG --before
    python bench/bench_rnn.py --sizes 64x100x2x32,64x100x512x512 --repeats 5

Set the thread counts explicitly (``--threads 1,2``; torch's intra-op threads): the figures
depend on them, and each table reports its count.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

SIZES = [(64, 100, 2, 32), (64, 100, 2, 128), (64, 100, 128, 128), (64, 100, 256, 256),
         (64, 100, 512, 512)]
QUICK_SIZES = [(64, 100, 2, 32), (64, 100, 2, 128)]
VARIANTS = ("NIG", "NFG", "NOG", "NIAF", "NOAF", "FGR")
# (name in the tables and in --layers, the torch.nn layer it is compared with)
LAYERS = ([("RNN", "RNN"), ("LSTM", "LSTM"), ("GRU", "GRU"), ("PeepholeLSTM", "LSTM"),
           ("CIFG", "LSTM")] + [(f"LSTM:{v}", "LSTM") for v in VARIANTS]
          + [("MinGRU", "GRU"), ("MinLSTM", "LSTM"), ("SLSTM", "LSTM")])


def make_layer(lnn, name: str, X: int, H: int):
    """The lnn layer called ``name`` in :data:`LAYERS` (``LSTM:NIG``: lnn.LSTM, variant NIG)."""
    cls, _, variant = name.partition(":")
    return getattr(lnn, cls)(X, H, **({"variant": variant} if variant else {}))


def parse_sizes(text: str) -> list[tuple[int, int, int, int]]:
    """``"64x100x2x32,4x5x3x8"`` -> [(64, 100, 2, 32), (4, 5, 3, 8)]."""
    sizes = []
    for item in text.split(","):
        parts = item.strip().lower().split("x")
        if len(parts) != 4 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise argparse.ArgumentTypeError(
                f"--sizes takes B x T x X x H items such as 64x100x2x32, got {item!r}")
        sizes.append(tuple(int(p) for p in parts))
    return sizes


def parse_threads(text: str) -> list[int]:
    """``"1,2"`` -> [1, 2]."""
    try:
        threads = [int(t) for t in text.split(",")]
    except ValueError:
        threads = []
    if not threads or min(threads) < 1:
        raise argparse.ArgumentTypeError(f"--threads takes counts >= 1 such as 1,2, got {text!r}")
    return threads


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    ap.add_argument("--device", default="all", help="cpu, cuda, or all (cuda when present)")
    ap.add_argument("--threads", type=parse_threads, default=[1, 2],
                    help="comma-separated torch intra-op thread counts (default 1,2)")
    ap.add_argument("--sizes", type=parse_sizes, default=None,
                    help="comma-separated BxTxXxH sizes (default: the grid, or --quick's)")
    ap.add_argument("--before", action="store_true",
                    help="also time lnn with the inference shortcuts off (before issue 15)")
    ap.add_argument("--generic", action="store_true",
                    help="also time lnn with lnn.fast_path(False) (the generic loop)")
    ap.add_argument("--python", action="store_true",
                    help="also time lnn with the compiled loops off (the Python loops)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per figure")
    ap.add_argument("--warmup", type=int, default=None, help="untimed runs first")
    ap.add_argument("--layers", default=",".join(name for name, _ in LAYERS),
                    help="comma-separated lnn layer names (LSTM:NIG for a variant)")
    ap.add_argument("--no-reference", action="store_true", help="skip the numpy reference")
    return ap.parse_args(argv)


def machine_info(torch, threads: list[int]) -> str:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    gpu = (f", cuda: {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    from lstm_lib.nn import compiled

    loops = ("compiled LSTM loops: on" if compiled.available() else
             f"compiled LSTM loops: off ({compiled.error() or 'LSTM_LIB_COMPILED=0'})")
    return (f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {platform.node()}; "
            f"nproc {os.cpu_count()}; {cpu}; torch {torch.__version__}; python "
            f"{platform.python_version()}; torch threads {','.join(map(str, threads))}; "
            f"load average {load}{gpu}; {loops}")


def make_step(torch, model, x, train: bool):
    if not train:
        def infer():
            with torch.no_grad():
                model(x)
        return infer
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        out, _ = model(x)
        out.square().mean().backward()
        opt.step()
    return step


def time_interleaved(torch, fns: dict, device, repeats: int, warmup: int) -> dict:
    """Median seconds per call of each function, the calls interleaved round-robin."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}


def without_shortcuts(fn):
    """``fn`` with the inference shortcuts of :mod:`lstm_lib.nn.inference` off: the forward of
    the layers as it was before issue 15 (the fused path, or the generic loop)."""
    from lstm_lib.nn import inference

    def run():
        saved = inference.applies_stack, inference.applies_layer
        inference.applies_stack = inference.applies_layer = lambda *a, **k: False
        try:
            fn()
        finally:
            inference.applies_stack, inference.applies_layer = saved
    return run


def python_loops(fn):
    """``fn`` with the compiled loops of :mod:`lstm_lib.nn.compiled` off."""
    from lstm_lib.nn import compiled

    def run():
        with compiled.use_compiled(False):
            fn()
    return run


def bench_layers(torch, lnn, device, sizes, layer_names, repeats, warmup, *, before=False,
                 generic=False, python=False):
    """Time every layer of ``layer_names`` at every size; one row per (size, layer)."""
    rows = []
    for (B, T, X, H) in sizes:
        for name, torch_name in LAYERS:
            if name not in layer_names:
                continue
            torch.manual_seed(0)
            theirs = getattr(torch.nn, torch_name)(X, H).to(device)
            ours = make_layer(lnn, name, X, H).to(device)
            x = torch.randn(T, B, X, device=device)
            row = {"size": (B, T, X, H), "layer": name, "torch": torch_name}
            for train in (True, False):
                def off(fn):
                    def run():
                        with lnn.fast_path(False):
                            fn()
                    return run
                fns = {"torch": make_step(torch, theirs, x, train),
                       "lnn": make_step(torch, ours, x, train)}
                if before and not train:  # training did not change
                    fns["before"] = without_shortcuts(make_step(torch, ours, x, train))
                if generic:
                    fns["generic"] = off(make_step(torch, ours, x, train))
                if python:
                    fns["python"] = python_loops(make_step(torch, ours, x, train))
                row["train" if train else "infer"] = time_interleaved(torch, fns, device,
                                                                      repeats, warmup)
            rows.append(row)
            tr, inf = row["train"], row["infer"]
            extra = "".join(f", {k} {v / inf['torch']:5.2f}x" for k, v in inf.items()
                            if k not in ("torch", "lnn"))
            print(f"  {device.type} {torch.get_num_threads()}t {str(row['size']):>20} "
                  f"{name:>12}: train torch {tr['torch'] * 1e3:7.1f} ms, lnn "
                  f"{tr['lnn'] / tr['torch']:5.2f}x; infer torch {inf['torch'] * 1e3:7.1f} ms, "
                  f"lnn {inf['lnn'] / inf['torch']:5.2f}x{extra}", file=sys.stderr, flush=True)
    return rows


def ratio(times: dict, key: str = "lnn") -> float:
    return times[key] / times["torch"]


def table(rows, title: str) -> str:
    """Every figure: one line per (size, layer), torch's ms and lnn/torch for train and infer
    (plus the ``before``, ``generic`` and ``python`` columns when they were timed)."""
    extra = [k for k in ("before", "generic", "python") if any(k in r["infer"] for r in rows)]
    head = ("| (B, T, X, H) | lnn layer | vs torch.nn | train: torch ms | train: lnn/torch | "
            + "".join(f"train: {k}/torch | " for k in extra if k != "before")
            + "infer: torch ms | infer: lnn/torch |"
            + "".join(f" infer: {k}/torch |" for k in extra))
    lines = [f"\n#### {title}: every figure\n", head,
             "|---|---|---|" + "---:|" * (head.count("|") - 4)]
    for r in rows:
        tr, inf = r["train"], r["infer"]
        cells = [str(r["size"]), r["layer"], r["torch"], f"{tr['torch'] * 1e3:.1f}",
                 f"**{ratio(tr):.2f}**"]
        cells += [f"{ratio(tr, k):.2f}" for k in extra if k != "before"]
        cells += [f"{inf['torch'] * 1e3:.1f}", f"**{ratio(inf):.2f}**"]
        cells += [f"{ratio(inf, k):.2f}" for k in extra]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratio_table(rows, title: str) -> str:
    """The summary: one line per layer, one column per size, ``train / infer`` lnn/torch."""
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    layers = list(dict.fromkeys((r["layer"], r["torch"]) for r in rows))
    by = {(r["size"], r["layer"]): r for r in rows}
    lines = [f"\n#### {title}: lnn/torch, train / infer\n",
             "| lnn layer | vs torch.nn | " + " | ".join(str(s) for s in sizes) + " |",
             "|---|---|" + "---:|" * len(sizes)]
    above = 0
    for layer, theirs in layers:
        cells = []
        for size in sizes:
            r = by.get((size, layer))
            if r is None:
                cells.append("")
                continue
            tr, inf = f"{ratio(r['train']):.2f}", f"{ratio(r['infer']):.2f}"
            above += (float(tr) > 1.0) + (float(inf) > 1.0)  # as printed: 1.004 reads 1.00
            cells.append(f"{tr} / {inf}")
        lines.append(f"| {layer} | {theirs} | " + " | ".join(cells) + " |")
    lines.append(f"\nRatios above 1.0: {above} of {2 * len(rows)}.")
    return "\n".join(lines)


def bench_reference(torch, repeats: int, warmup: int) -> str:
    """The numpy reference LSTM (forward + hand-written BPTT) against torch autograd, float64."""
    import numpy as np

    from lstm_lib import reference as ref

    N, T, D, H = 16, 50, 8, 32
    rng = np.random.default_rng(0)
    cell = ref.make_cell("lstm", D, H, rng=0)
    xs = rng.standard_normal((T, N, D))
    dhs = rng.standard_normal((T, N, H))
    theirs = torch.nn.LSTM(D, H, dtype=torch.float64)
    x = torch.from_numpy(xs)
    dh = torch.from_numpy(dhs)

    def numpy_ref():
        hs, cache = cell.forward(xs)
        cell.backward(dhs, cache)

    def torch_autograd():
        theirs.zero_grad(set_to_none=True)
        out, _ = theirs(x)
        (out * dh).sum().backward()

    t = time_interleaved(torch, {"numpy": numpy_ref, "torch": torch_autograd},
                         torch.device("cpu"), repeats, warmup)
    return (f"\n### numpy reference LSTM vs torch.nn.LSTM autograd (cpu, float64, "
            f"(N, T, D, H) = {(N, T, D, H)}, forward + backward)\n\n"
            f"| numpy reference ms | torch ms | reference/torch |\n|---:|---:|---:|\n"
            f"| {t['numpy'] * 1e3:.2f} | {t['torch'] * 1e3:.2f} | "
            f"**{t['numpy'] / t['torch']:.2f}** |")


def main(argv=None) -> None:
    args = parse_args(argv)
    most = str(max(args.threads))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = most  # before torch starts its thread pools
    import torch

    from lstm_lib import nn as lnn

    repeats = args.repeats or (5 if args.quick else 9)
    warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    layer_names = set(args.layers.split(","))
    unknown = layer_names - {name for name, _ in LAYERS}
    if unknown:
        raise SystemExit(f"--layers: unknown layer(s) {sorted(unknown)}; known: "
                         f"{', '.join(name for name, _ in LAYERS)}")
    if args.device == "all":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [args.device]
    print(f"Machine: {machine_info(torch, args.threads)}")
    print(f"Repeats {repeats} after {warmup} warm-up rounds, interleaved; medians. Ratios < 1: "
          f"lnn is faster.")
    for dev in devices:
        device = torch.device(dev)
        for threads in (args.threads if dev == "cpu" else [max(args.threads)]):
            torch.set_num_threads(threads)
            rows = bench_layers(torch, lnn, device, sizes, layer_names, repeats, warmup,
                                before=args.before, generic=args.generic, python=args.python)
            title = f"{dev} ({threads} thread{'s' if threads > 1 else ''})"
            print(ratio_table(rows, title))
            print(table(rows, title))
    if not args.no_reference:
        torch.set_num_threads(min(args.threads))
        print(bench_reference(torch, repeats, warmup))
    print(f"\nLoad average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
