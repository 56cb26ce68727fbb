"""Speed of ``lstm_lib.nn`` against ``torch.nn``, as ratios measured in the same run.

For each size (B, T, X, H) = (batch, time, input, hidden) and each layer it times

* a training step: forward, ``loss = mean(output²)``, backward, one Adam step;
* inference: the forward pass under ``torch.no_grad()``;

for ``torch.nn.{RNN, LSTM, GRU}`` and ``lstm_lib.nn.{RNN, LSTM, GRU, PeepholeLSTM, CIFG}`` with the
fused fast path on (the default) and off (``lnn.fast_path(False)``, the generic time loop). The
runs are interleaved (torch, lnn, lnn generic, torch, ...) so that all see the same machine load,
and each figure is the median over the repeats after warm-up. It prints the ratios
lnn time / torch time (PeepholeLSTM and CIFG against torch.nn.LSTM): on a shared machine the ratios
are the meaningful figures, the absolute times are not. Finally it times the numpy reference
LSTM's forward and hand-written backward against torch autograd (CPU, float64, a small size).

    python bench/bench_rnn.py                 # every size, cpu and cuda when present
    python bench/bench_rnn.py --quick         # smaller and fewer, about a minute
    python bench/bench_rnn.py --device cpu --threads 1

Set the thread count explicitly (``--threads``; it sets torch's intra-op threads): the figures
depend on it, and the table reports it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

SIZES = [(64, 100, 2, 128), (64, 100, 128, 128), (64, 100, 256, 256), (64, 100, 512, 512)]
QUICK_SIZES = [(64, 100, 2, 128), (64, 100, 2, 32)]
LAYERS = [("RNN", "RNN"), ("LSTM", "LSTM"), ("GRU", "GRU"), ("PeepholeLSTM", "LSTM"),
          ("CIFG", "LSTM")]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    ap.add_argument("--device", default="all", help="cpu, cuda, or all (cuda when present)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's default)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per figure")
    ap.add_argument("--warmup", type=int, default=None, help="untimed runs first")
    ap.add_argument("--layers", default=",".join(name for name, _ in LAYERS),
                    help="comma-separated lnn layer names")
    ap.add_argument("--no-reference", action="store_true", help="skip the numpy reference")
    return ap.parse_args(argv)


def machine_info(torch, threads: int) -> str:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    gpu = (f", cuda: {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    return (f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {platform.node()}; "
            f"nproc {os.cpu_count()}; {cpu}; torch {torch.__version__}; python "
            f"{platform.python_version()}; torch threads {threads}; load average {load}{gpu}")


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


def bench_layers(torch, lnn, device, sizes, layer_names, repeats, warmup):
    rows = []
    for (B, T, X, H) in sizes:
        for name, torch_name in LAYERS:
            if name not in layer_names:
                continue
            torch.manual_seed(0)
            theirs = getattr(torch.nn, torch_name)(X, H).to(device)
            ours = getattr(lnn, name)(X, H).to(device)
            x = torch.randn(T, B, X, device=device)
            row = {"size": (B, T, X, H), "layer": name, "torch": torch_name}
            for train in (True, False):
                def generic(fn):
                    def run():
                        with lnn.fast_path(False):
                            fn()
                    return run
                fns = {"torch": make_step(torch, theirs, x, train),
                       "fast": make_step(torch, ours, x, train),
                       "generic": generic(make_step(torch, ours, x, train))}
                t = time_interleaved(torch, fns, device, repeats, warmup)
                key = "train" if train else "infer"
                row[key] = t
            rows.append(row)
            tr, inf = row["train"], row["infer"]
            print(f"  {device.type} {str(row['size']):>20} {name:>12}: train torch "
                  f"{tr['torch'] * 1e3:7.1f} ms, lnn {tr['fast'] / tr['torch']:5.2f}x "
                  f"(generic {tr['generic'] / tr['torch']:5.2f}x); infer lnn "
                  f"{inf['fast'] / inf['torch']:5.2f}x (generic "
                  f"{inf['generic'] / inf['torch']:5.2f}x)", file=sys.stderr, flush=True)
    return rows


def table(rows, device_name: str) -> str:
    lines = [f"\n### {device_name}\n",
             "| (B, T, X, H) | lnn layer | vs torch.nn | train: torch ms | train: lnn/torch "
             "| train: generic/torch | infer: torch ms | infer: lnn/torch | infer: generic/torch |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        tr, inf = r["train"], r["infer"]
        lines.append(
            f"| {r['size']} | {r['layer']} | {r['torch']} | {tr['torch'] * 1e3:.1f} | "
            f"**{tr['fast'] / tr['torch']:.2f}** | {tr['generic'] / tr['torch']:.2f} | "
            f"{inf['torch'] * 1e3:.1f} | **{inf['fast'] / inf['torch']:.2f}** | "
            f"{inf['generic'] / inf['torch']:.2f} |")
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
    if args.threads is not None:  # before torch starts its thread pools
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    import torch

    from lstm_lib import nn as lnn

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    repeats = args.repeats or (5 if args.quick else 9)
    warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)
    sizes = QUICK_SIZES if args.quick else SIZES
    layer_names = set(args.layers.split(","))
    if args.device == "all":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [args.device]
    print(f"Machine: {machine_info(torch, threads)}")
    print(f"Repeats {repeats} after {warmup} warm-up rounds, interleaved; medians. Ratios < 1: "
          f"lnn is faster. 'generic': lnn with lnn.fast_path(False).")
    for dev in devices:
        device = torch.device(dev)
        rows = bench_layers(torch, lnn, device, sizes, layer_names, repeats, warmup)
        print(table(rows, f"{dev} ({threads} threads)" if dev == "cpu" else dev))
    if not args.no_reference:
        print(bench_reference(torch, repeats, warmup))
    print(f"\nLoad average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
