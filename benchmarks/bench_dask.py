"""Scaling out with Dask: encode and exact k-NN on a LocalCluster of 1 and 2 workers.

Measures, side by side in one run (so a neighbour's load hits all of it):

* **encode**: ``--rows`` Fashion-MNIST-sized rows (784 float32 pixels; the
  real training images repeated, blocks of ``--block-rows`` rows generated on
  the workers from a broadcast copy of the images) with ITQ and with a trained
  deep hasher (``SemanticKLHasher``, MLP 784-512-64, fitted on a small
  sample). Baseline: a plain loop in this process that generates the same
  blocks and calls ``transform`` on each. Rows/s, 1 -> 2 worker speed-up,
  the overhead of ``sklhash.dask.encode`` on 1 worker against the loop, and
  the codes checked byte for byte against the loop's.
* **search**: exact k-NN (``--k``, ``--queries`` queries) over ``--codes``
  random 64-bit codes generated on the workers (``--partitions``
  partitions) with ``DaskHammingIndex``, against ``HammingIndex``
  (numpy backend, one thread) on the same codes in this process; answers
  checked identical (distances and indices).
* peak resident memory of each worker (``ru_maxrss``) and of this process.
* CPU seconds of each setup (this process, which also runs the schedulers,
  plus every worker of the cluster used): on a shared machine wall time says
  how much CPU the neighbours left, CPU time how much work a setup needs.
  Before each run the setup sits idle for ``--idle-seconds``; that idle CPU
  rate times the run's wall time is subtracted to give "CPU s less idle"
  (Dask's event loops and heartbeats tick on however long the load
  stretches a run). Minimum over the rounds, per column.

Every process runs one thread (workers: ``threads_per_worker=1``; here
``threadpool_limits(1)`` and ``torch.set_num_threads(1)``). Each timing is
the best of ``--repeats`` rounds; in each round every setup (the loop, 1
worker, 2 workers; the clusters are all started first) runs once, in turn.
The 1-minute load average is recorded beside each timing.

With ``--fit-stream`` it measures instead what training a deep hasher
from a ``BlockStream`` costs in memory (issue #19): ``--fit-rows``
Fashion-MNIST-sized rows (the 60,000 training images repeated, rows
shuffled) are written once as a raw float32 file, and each ``--fit-modes``
entry fits a ``SemanticKLHasher`` (MLP 784-128-32) in a fresh process:
``memory`` reads the file into an array and calls ``fit(X, y)``;
``memmap`` streams an ``np.memmap`` of the file; ``reader`` streams an
object that reads each block with ``np.fromfile`` (as an HDF5 or Zarr
dataset would). Each child reports its peak resident memory (``VmHWM``:
anonymous and file-backed pages, ``ru_maxrss``), its peak anonymous memory
(``RssAnon``, sampled every 20 ms; memory-mapped file pages are page cache
the kernel may drop, anonymous memory is not), the same two right after its
imports, the fit's wall time and the mAP@1000 of 1,000 test queries against
the first 10,000 rows.

Usage::

    python benchmarks/bench_dask.py                      # the full run
    python benchmarks/bench_dask.py --fit-stream --fit-rows 200000 --fit-epochs 2
    python benchmarks/bench_dask.py --rows 100000 --codes 1000000  # quick
    python benchmarks/bench_dask.py --json out.json --markdown out.md
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

N_FEATURES = 784


def _load_images(n_base, seed=0):
    """The first ``n_base`` Fashion-MNIST training images, or synthetic ones."""
    try:
        from sklhash.datasets import load_fashion_mnist

        X, y = load_fashion_mnist("train", return_X_y=True)
        return X[:n_base], y[:n_base], "Fashion-MNIST train images, repeated"
    except (OSError, ValueError):
        rng = np.random.default_rng(seed)
        X = rng.random((n_base, N_FEATURES), dtype=np.float32)
        return X, rng.integers(0, 10, n_base), "synthetic uniform pixels"


def make_block(base, start, stop):
    """Rows ``start..stop`` of the endless repetition of ``base`` (a copy)."""
    return base[np.arange(start, stop) % len(base)]


def make_codes(seed, n, width):
    """One partition of random packed codes (seeded: reproducible anywhere)."""
    return np.random.default_rng(seed).integers(0, 256, (n, width), dtype=np.uint8)


def _bounds(n, step):
    return [(a, min(a + step, n)) for a in range(0, n, step)]


def _best(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load():
    return round(os.getloadavg()[0], 2)


def _cpu_seconds(client):
    """CPU seconds used so far by this process and by the client's workers.

    Wall time on a shared machine says how much CPU the others left us; CPU
    time says how much work each setup needs, whatever the load.
    """
    here = time.process_time()
    if client is None:
        return here
    return here + sum(client.run(time.process_time).values())


def _timed(client, fn, idle_seconds=0.0):
    """Run ``fn``; return (result, wall s, CPU s, idle CPU per s, load average).

    With ``idle_seconds``, the setup first sits idle that long, right before
    the run, to measure what its event loops and heartbeats burn doing
    nothing (CPU seconds per wall second, under the load of the moment).
    """
    idle = 0.0
    if idle_seconds:
        cpu0, start = _cpu_seconds(client), time.perf_counter()
        time.sleep(idle_seconds)
        idle = (_cpu_seconds(client) - cpu0) / (time.perf_counter() - start)
    load = _load()
    cpu0 = _cpu_seconds(client)
    start = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - start
    return out, wall, _cpu_seconds(client) - cpu0, idle, load


def fit_models(images, labels, deep_epochs, seed=0):
    from sklhash import ITQHasher, SemanticKLHasher

    itq = ITQHasher(bits=64, random_state=seed).fit(images)
    t0 = time.perf_counter()
    deep = SemanticKLHasher(
        bits=64, hidden_layer_sizes=(512,), max_epochs=deep_epochs, random_state=seed
    ).fit(images[:5000], labels[:5000])
    print(f"deep hasher fitted on 5,000 images in {time.perf_counter() - t0:.1f} s")
    return {"itq": itq, "semantic-kl": deep}


def loop_encode(model, base, n_rows, block_rows):
    return np.concatenate(
        [
            model.transform(make_block(base, a, b))
            for a, b in _bounds(n_rows, block_rows)
        ]
    )


def cluster_images(client, base, n_rows, block_rows):
    import dask
    import dask.array as da

    base_ref = client.scatter(base, broadcast=True)
    blocks = [
        da.from_delayed(
            dask.delayed(make_block, pure=True)(base_ref, a, b),
            shape=(b - a, N_FEATURES),
            dtype=np.float32,
            meta=np.empty((0, 0), np.float32),
        )
        for a, b in _bounds(n_rows, block_rows)
    ]
    return da.concatenate(blocks)


def cluster_codes(n_codes, n_parts, width):
    import dask
    import dask.array as da

    return da.concatenate(
        [
            da.from_delayed(
                dask.delayed(make_codes, pure=True)(1000 + i, b - a, width),
                shape=(b - a, width),
                dtype=np.uint8,
                meta=np.empty((0, 0), np.uint8),
            )
            for i, (a, b) in enumerate(_bounds(n_codes, -(-n_codes // n_parts)))
        ]
    )


def run(args):
    import contextlib

    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    torch.set_num_threads(1)
    from distributed import Client, LocalCluster

    from sklhash.dask import DaskHammingIndex, encode
    from sklhash.neighbors import HammingIndex

    base, labels, source = _load_images(args.base_images)
    models = fit_models(base, labels, args.deep_epochs)
    rows = {"itq": args.rows, "semantic-kl": args.deep_rows or args.rows}
    width = 8
    part_rows = -(-args.codes // args.partitions)
    db = np.concatenate(
        [
            make_codes(1000 + i, b - a, width)
            for i, (a, b) in enumerate(_bounds(args.codes, part_rows))
        ]
    )
    queries = np.random.default_rng(7).integers(0, 256, (args.queries, width), np.uint8)
    index = HammingIndex(backend="numpy", n_jobs=1).fit(db)
    del db
    results = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "threads_per_process": 1,
        },
        "data": source,
        "args": vars(args),
    }

    with contextlib.ExitStack() as stack:
        # Every setup is alive at once and measured in turn, round after
        # round, so that a neighbour's burst of load hits all of them alike.
        clients = {}
        for n_workers in args.workers:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                    memory_limit=args.memory_limit,
                    silence_logs=40,
                )
            )
            client = stack.enter_context(Client(cluster, set_as_default=False))
            clients[n_workers] = client
        setups = {0: None, **clients}

        def as_current(client, fn):
            if client is None:
                return fn()
            with client.as_current():
                return fn()

        # Warm up: every worker imports sklhash, torch, and builds its shards.
        images, dindex = {}, {}
        for n, client in clients.items():
            with client.as_current():
                warm = cluster_images(client, base, 64 * n, 64)
                for model in models.values():
                    encode(model, warm).compute()
                images[n] = {
                    name: cluster_images(client, base, rows[name], args.block_rows)
                    for name in models
                }
                t0 = time.perf_counter()
                dindex[n] = DaskHammingIndex().fit(
                    cluster_codes(args.codes, args.partitions, width)
                )
                print(f"{n} worker(s): index built in {time.perf_counter() - t0:.1f} s")

        times = {}
        reference = {}
        checks = {}
        for r in range(args.repeats):
            for name, model in models.items():
                for n, client in setups.items():
                    if client is None:
                        fn = lambda m=model, k=name: loop_encode(  # noqa: E731
                            m, base, rows[k], args.block_rows
                        )
                    else:
                        fn = lambda m=model, X=images[n][name]: encode(  # noqa: E731
                            m, X
                        ).compute()
                    codes, t, cpu, idle, load = _timed(
                        client,
                        lambda c=client, f=fn: as_current(c, f),
                        args.idle_seconds,
                    )
                    key = ("encode", name, n)
                    times.setdefault(key, []).append((t, load, cpu, idle))
                    if n == 0:
                        reference[name] = codes
                    else:
                        checks[key] = bool(np.array_equal(codes, reference[name]))
                    print(
                        f"round {r} {name:12s} workers={n} "
                        f"{rows[name] / t:12,.0f} rows/s"
                    )
            for n, client in setups.items():
                if client is None:
                    fn = lambda: index.kneighbors(queries, args.k)  # noqa: E731
                else:
                    fn = lambda ix=dindex[n]: ix.kneighbors(queries, args.k)  # noqa: E731
                knn, t, cpu, idle, load = _timed(
                    client, lambda c=client, f=fn: as_current(c, f), args.idle_seconds
                )
                key = ("search", "knn", n)
                times.setdefault(key, []).append((t, load, cpu, idle))
                if n == 0:
                    ref_knn = knn
                else:
                    checks[key] = bool(
                        np.array_equal(knn[0], ref_knn[0])
                        and np.array_equal(knn[1], ref_knn[1])
                    )
                print(
                    f"round {r} kNN          workers={n} {args.queries / t:12,.1f} q/s"
                )
        peaks = {
            str(n): sorted(c.run(_peak_rss_mb).values()) for n, c in clients.items()
        }

    results["encode"] = []
    results["search"] = []
    for (task, name, n), runs in times.items():
        t, load, cpu, idle = min(runs)
        entry = {
            "workers": n,
            "setup": (
                (
                    "transform loop, 1 process"
                    if task == "encode"
                    else "HammingIndex, 1 process"
                )
                if n == 0
                else ("sklhash.dask.encode" if task == "encode" else "DaskHammingIndex")
            ),
            "seconds": t,
            "all_seconds": [r[0] for r in runs],
            "load": load,
            "all_loads": [r[1] for r in runs],
            "cpu_seconds": min(r[2] for r in runs),
            "all_cpu_seconds": [r[2] for r in runs],
            "work_cpu_seconds": min(r[2] - r[3] * r[0] for r in runs),
            "all_idle_cpu_per_s": [r[3] for r in runs],
        }
        if n:
            entry["identical"] = checks[(task, name, n)]
        if task == "encode":
            entry.update(method=name, rows=rows[name], rows_per_s=rows[name] / t)
            results["encode"].append(entry)
        else:
            entry.update(queries_per_s=args.queries / t)
            results["search"].append(entry)
    results["worker_peak_rss_mb"] = peaks
    results["client_peak_rss_mb"] = _peak_rss_mb()
    return results


def summarise(results):
    enc = results["encode"]
    lines = [
        "| task | setup | workers | rows/s or queries/s | wall s | speed-up | "
        "CPU s | CPU s less idle | identical | load |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    notes = []
    for name in dict.fromkeys(r["method"] for r in enc):
        runs = [r for r in enc if r["method"] == name]
        loop = next(r for r in runs if r["workers"] == 0)
        one = next((r for r in runs if r["workers"] == 1), None)
        for r in runs:
            speed = (
                ""
                if one is None or r["workers"] == 0
                else (f"{r['rows_per_s'] / one['rows_per_s']:.2f}x")
            )
            lines.append(
                f"| encode {name} ({r['rows']:,} rows) | {r['setup']} | {r['workers']} "
                f"| {r['rows_per_s']:,.0f} | {r['seconds']:.1f} | {speed} | "
                f"{r['cpu_seconds']:.1f} | {r['work_cpu_seconds']:.1f} | "
                f"{r.get('identical', '')} | {r['load']} |"
            )
        if one is not None:
            notes.append(
                f"{name}: overhead of encode on 1 worker vs the loop: wall "
                f"{100 * (one['seconds'] / loop['seconds'] - 1):+.1f}%, CPU "
                f"{100 * (one['cpu_seconds'] / loop['cpu_seconds'] - 1):+.1f}%, "
                "CPU less idle "
                f"{100 * (one['work_cpu_seconds'] / loop['work_cpu_seconds'] - 1):+.1f}"
                "%"
            )
    search = results["search"]
    single = next(r for r in search if r["workers"] == 0)
    for r in search:
        speed = (
            ""
            if r["workers"] == 0
            else (f"{r['queries_per_s'] / single['queries_per_s']:.2f}x vs 1 process")
        )
        lines.append(
            f"| kNN k={results['args']['k']} on {results['args']['codes']:,} codes "
            f"| {r['setup']} | {r['workers']} | {r['queries_per_s']:,.1f} | "
            f"{r['seconds']:.1f} | {speed} | {r['cpu_seconds']:.1f} | "
            f"{r['work_cpu_seconds']:.1f} | {r.get('identical', '')} | {r['load']} |"
        )
    for n, peaks in results.get("worker_peak_rss_mb", {}).items():
        notes.append(
            f"peak worker RSS with {n} worker(s): "
            + ", ".join(f"{p:,.0f} MB" for p in peaks)
        )
    notes.append(
        f"peak RSS of the client process: {results['client_peak_rss_mb']:,.0f} MB"
    )
    return "\n".join(lines) + "\n\n" + "\n".join(f"* {n}" for n in notes) + "\n"


# -- training from a stream (--fit-stream) -------------------------------------


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class _PeakSampler(threading.Thread):
    """Largest ``RssAnon`` seen, sampled every ``interval`` seconds."""

    def __init__(self, interval=0.02):
        super().__init__(daemon=True)
        self.interval, self.peak_kb, self.running = interval, 0, True

    def run(self):
        while self.running:
            self.peak_kb = max(self.peak_kb, _status_kb("RssAnon"))
            time.sleep(self.interval)

    def stop(self):
        self.running = False
        self.join()
        self.peak_kb = max(self.peak_kb, _status_kb("RssAnon"))
        return self.peak_kb / 1024


class FileRows:
    """Rows of a raw float32 file, each slice read with ``np.fromfile``.

    Stands for any on-disk dataset with ``shape`` and row slicing (HDF5,
    Zarr): a read lands in fresh anonymous memory, freed with the block.
    """

    def __init__(self, path, shape):
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(np.float32)
        self.row_items = int(np.prod(self.shape[1:]))

    def __getitem__(self, rows):
        start, stop, _ = rows.indices(self.shape[0])
        x = np.fromfile(
            self.path,
            dtype=self.dtype,
            count=(stop - start) * self.row_items,
            offset=start * self.row_items * self.dtype.itemsize,
        )
        return x.reshape((stop - start, *self.shape[1:]))


def _write_fit_data(path, n_rows, seed=0):
    """``n_rows`` Fashion-MNIST training images (repeated, shuffled) to ``path``."""
    images, labels, source = _load_images(60_000, seed)
    order = np.random.default_rng(seed).permutation(n_rows) % len(images)
    with open(path, "wb") as f:
        for start in range(0, n_rows, 20_000):
            images[order[start : start + 20_000]].tofile(f)
    return labels[order], source


def fit_child(args):
    """One fit in this (fresh) process; prints a JSON line of measurements."""
    import torch
    from threadpoolctl import threadpool_limits

    from sklhash import SemanticKLHasher
    from sklhash.dask import BlockStream
    from sklhash.metrics import mean_average_precision

    torch.set_num_threads(1)
    threadpool_limits(1)
    shape = (args.fit_rows, N_FEATURES)
    y = np.load(args.fit_path + ".labels.npy")
    after_imports = {
        "rss_mb": _status_kb("VmRSS") / 1024,
        "anon_mb": _status_kb("RssAnon") / 1024,
    }
    hasher = SemanticKLHasher(
        bits=32,
        hidden_layer_sizes=(128,),
        max_epochs=args.fit_epochs,
        batch_size=256,
        # The constant rate and CE weight of the recorded runs (both became
        # "auto" afterwards); memory does not depend on them, the mAP does.
        lr_schedule="constant",
        ce_weight=0.3,
        random_state=0,
    )
    sampler = _PeakSampler()
    sampler.start()
    start = time.perf_counter()
    if args.fit_child == "memory":
        X = np.fromfile(args.fit_path, dtype=np.float32).reshape(shape)
        hasher.fit(X, y)
        del X
    else:
        if args.fit_child == "memmap":
            source = np.memmap(args.fit_path, dtype=np.float32, mode="r", shape=shape)
        else:
            source = FileRows(args.fit_path, shape)
        stream = BlockStream(
            source,
            y,
            batch_size=256,
            block_size=args.fit_block_rows,
            blocks_per_buffer=args.fit_blocks_per_buffer,
            random_state=0,
        )
        hasher.fit(stream)
    wall = time.perf_counter() - start
    peak_anon = sampler.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Quality check on rows read here (after the peak was recorded).
    db = np.fromfile(args.fit_path, dtype=np.float32, count=11_000 * N_FEATURES)
    codes = hasher.transform(db.reshape(-1, N_FEATURES))
    quality = mean_average_precision(
        codes[10_000:], codes[:10_000], y[10_000:11_000], y[:10_000], k=1000
    )
    print(
        json.dumps(
            {
                "mode": args.fit_child,
                "rows": args.fit_rows,
                "epochs": args.fit_epochs,
                "block_rows": args.fit_block_rows,
                "blocks_per_buffer": args.fit_blocks_per_buffer,
                "fit_seconds": round(wall, 1),
                "peak_rss_mb": round(peak_rss),
                "peak_anon_mb": round(peak_anon),
                "after_imports_rss_mb": round(after_imports["rss_mb"]),
                "after_imports_anon_mb": round(after_imports["anon_mb"]),
                "map_at_1000": round(float(quality), 3),
            }
        )
    )


def fit_stream(args):
    """Write the data once, then one fresh process per ``--fit-modes`` entry."""
    folder = args.fit_dir or tempfile.mkdtemp(prefix="sklhash_fit_stream_")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"fashion_{args.fit_rows}x{N_FEATURES}.f32")
    if not os.path.exists(path + ".labels.npy"):
        labels, source = _write_fit_data(path, args.fit_rows)
        np.save(path + ".labels.npy", labels)
        print(f"wrote {path} ({os.path.getsize(path) / 2**20:,.0f} MiB): {source}")
    env = dict(
        os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"
    )
    results = []
    for mode in args.fit_modes:
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--fit-child",
            mode,
            "--fit-path",
            path,
            "--fit-rows",
            str(args.fit_rows),
            "--fit-epochs",
            str(args.fit_epochs),
            "--fit-blocks-per-buffer",
            str(args.fit_blocks_per_buffer),
        ]
        if args.fit_block_rows is not None:
            cmd += ["--fit-block-rows", str(args.fit_block_rows)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        results[-1]["load"] = _load()
        print(results[-1], flush=True)
    lines = [
        "| data | fit s | peak RSS MB | peak anonymous MB "
        "| after imports RSS / anon MB | mAP@1000 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['mode']} | {r['fit_seconds']} | {r['peak_rss_mb']:,} | "
            f"{r['peak_anon_mb']:,} | {r['after_imports_rss_mb']} / "
            f"{r['after_imports_anon_mb']} | {r['map_at_1000']} |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            record = {"platform": platform.platform(), "results": results}
            json.dump(record, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--deep-rows",
        type=int,
        default=None,
        help="rows for the deep hasher (default: --rows)",
    )
    parser.add_argument("--block-rows", type=int, default=20_000)
    parser.add_argument("--base-images", type=int, default=10_000)
    parser.add_argument("--deep-epochs", type=int, default=2)
    parser.add_argument("--codes", type=int, default=10_000_000)
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GiB")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=3.0,
        help="seconds each setup sits idle before each run (background CPU)",
    )
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None)
    parser.add_argument(
        "--fit-stream",
        action="store_true",
        help="measure the memory of training from a BlockStream instead",
    )
    parser.add_argument("--fit-rows", type=int, default=200_000)
    parser.add_argument("--fit-epochs", type=int, default=2)
    parser.add_argument(
        "--fit-modes", nargs="+", default=["memory", "memmap", "reader"]
    )
    parser.add_argument("--fit-block-rows", type=int, default=None)
    parser.add_argument("--fit-blocks-per-buffer", type=int, default=1)
    parser.add_argument("--fit-dir", default=None, help="where the data file goes")
    parser.add_argument("--fit-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--fit-path", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit_child:
        fit_child(args)
        return
    if args.fit_stream:
        fit_stream(args)
        return
    results = run(args)
    table = summarise(results)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
