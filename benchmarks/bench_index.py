"""Throughput of HammingIndex's backends beside raw FAISS IndexBinaryFlat.

Two kinds of data (``--data``):

* ``random``: uniformly random codes (the worst case for multi-index hashing,
  a fair one for linear scans).
* ``learned``: what an index really holds. ITQ codes (``--bits``, default 48)
  of Fashion-MNIST: the 60,000 training images are the database, test images
  the queries. With ``--n-codes`` above 60,000 the database is the learned
  codes repeated, every copy after the first with each bit flipped with
  probability ``--flip`` (default 0.02, about one bit a code): clusters of
  near-duplicates around learned codes, so distances are small and ties
  many -- the case ``backend="auto"`` must get right.

1 and 1,000 queries, k-NN (k=10) and radius search (r=2) by default. Every
method runs in this one process, single-threaded (``n_jobs=1``, FAISS
``omp_set_num_threads(1)``), interleaved over the repeats, and the best
repeat counts, so a neighbour's burst of load hits all methods alike.

Throughput is in comparisons per second: ``n_queries * n_codes / seconds``
(for multi-index hashing, which compares far fewer pairs, the same formula
gives the *equivalent* scan rate). The bandwidth bound is
``2e9 codes/s/core at 8 bytes a code``, i.e. ``16e9 / n_bytes`` codes/s.

Usage::

    python benchmarks/bench_index.py                    # 1M codes, the full run
    python benchmarks/bench_index.py --n-codes 100000   # a quick look
    python benchmarks/bench_index.py --json out.json --markdown out.md
    # learned codes: the 60k database, then 1M clustered codes
    python benchmarks/bench_index.py --data learned --n-codes 60000 \
        --k 10 100 --radius 0 2 4
    python benchmarks/bench_index.py --data learned --n-codes 1000000 \
        --queries 1 200 --k 10 100 --radius 0 2 4
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from sklhash.neighbors import HammingIndex

BANDWIDTH_BYTES_PER_S = 16e9  # 2 G codes/s/core at 8 bytes a code


def _time(fn, n_calls=1):
    start = time.perf_counter()
    for i in range(n_calls):
        out = fn(i)
    return (time.perf_counter() - start) / n_calls, out


def random_data(n_codes, bits, n_queries, seed=0):
    """Uniformly random database and query codes."""
    rng = np.random.default_rng(seed)
    width = bits // 8
    db = rng.integers(0, 256, (n_codes, width), dtype=np.uint8)
    queries = rng.integers(0, 256, (n_queries, width), dtype=np.uint8)
    return db, queries


def learned_data(n_codes, bits, n_queries, flip=0.02, seed=0, cache=None):
    """ITQ codes of Fashion-MNIST, repeated and perturbed up to ``n_codes``.

    The database starts with the codes of the 60,000 training images; each
    further copy of them has every bit flipped with probability ``flip``.
    Queries are codes of test images (a seeded sample).
    """
    from sklhash import ITQHasher
    from sklhash.codes import pack_codes, unpack_codes
    from sklhash.datasets import load_fashion_mnist

    if cache and os.path.exists(cache):
        with np.load(cache) as f:
            base, test = f["db"], f["queries"]
    else:
        X, _ = load_fashion_mnist("train", return_X_y=True)
        X_test, _ = load_fashion_mnist("test", return_X_y=True)
        hasher = ITQHasher(bits=bits, random_state=seed).fit(X)
        base, test = hasher.transform(X), hasher.transform(X_test)
        if cache:
            np.savez(cache, db=base, queries=test)
    rng = np.random.default_rng(seed)
    parts, total = [base[:n_codes]], min(n_codes, len(base))
    bits_base = unpack_codes(base, bits).astype(bool)
    while total < n_codes:
        take = min(len(base), n_codes - total)
        noisy = bits_base[:take] ^ (rng.random((take, bits)) < flip)
        parts.append(pack_codes(noisy))
        total += take
    db = np.concatenate(parts)
    queries = test[rng.choice(len(test), n_queries, replace=n_queries > len(test))]
    return db, queries


def describe(db, queries, n_bits, k, radius):
    """How clustered the data is: tie sizes at the k-th distance, ball sizes."""
    from sklhash.codes import hamming_distances

    d = hamming_distances(queries[:50], db)
    kth = np.sort(d, axis=1)[:, k - 1]
    tie = (d == kth[:, None]).sum(axis=1)
    return {
        "median_kth_distance": float(np.median(kth)),
        "median_codes_at_kth_distance": float(np.median(tie)),
        "median_codes_within_radius": float(np.median((d <= radius).sum(axis=1))),
        "distinct_codes_fraction": float(
            len(np.unique(db.view(f"V{db.shape[1]}"))) / len(db)
        ),
    }


def run(db, queries, n_bits, query_counts, ks, radii, repeats, single_calls=20,
        data="random"):
    """Time every method on ``db``; rows of a table."""
    import faiss

    faiss.omp_set_num_threads(1)
    rows = []
    n_codes, width = db.shape
    raw = faiss.IndexBinaryFlat(8 * width)
    raw.add(db)
    indexes = {}
    fit_s = {}
    for backend in ("numpy", "faiss", "mih", "auto"):
        t = time.perf_counter()
        indexes[backend] = HammingIndex(backend, n_bits=n_bits, n_jobs=1).fit(db)
        fit_s[backend] = time.perf_counter() - t
    tasks = [("knn", k) for k in ks] + [("radius", r) for r in radii]
    for nq in query_counts:
        # One query a call for nq == 1 (a different query each call).
        calls = single_calls if nq == 1 else 1

        def q(i, nq=nq):
            return queries[i : i + 1] if nq == 1 else queries[:nq]

        methods = {}
        for task, arg in tasks:
            if task == "knn":
                methods[(task, arg, "raw faiss")] = (
                    lambda i, arg=arg: raw.search(q(i), arg)
                )
            else:
                methods[(task, arg, "raw faiss")] = (
                    lambda i, arg=arg: raw.range_search(q(i), arg + 1)
                )
            for backend, index in indexes.items():
                fn = index.kneighbors if task == "knn" else index.radius_neighbors
                methods[(task, arg, backend)] = (
                    lambda i, fn=fn, arg=arg: fn(q(i), arg)
                )
        best = {key: np.inf for key in methods}
        outputs = {}
        for _ in range(repeats):
            for key, fn in methods.items():
                seconds, out = _time(fn, calls)
                best[key] = min(best[key], seconds)
                outputs[key] = out
        # All sklhash backends must agree exactly (on the last call).
        for task, arg in tasks:
            ref = outputs[(task, arg, "numpy")]
            for backend in ("faiss", "mih", "auto"):
                got = outputs[(task, arg, backend)]
                pairs = zip(
                    ref if task == "knn" else ref[1],
                    got if task == "knn" else got[1],
                    strict=True,
                )
                assert all(np.array_equal(a, b) for a, b in pairs), (task, arg)
        bound = BANDWIDTH_BYTES_PER_S / width
        for (task, arg, method), seconds in best.items():
            cps = nq * n_codes / seconds
            raw_cps = nq * n_codes / best[(task, arg, "raw faiss")]
            fastest = min(
                best[(task, arg, b)] for b in ("numpy", "faiss", "mih")
            )
            row = {
                "data": data,
                "bits": n_bits,
                "n_codes": n_codes,
                "n_queries": nq,
                "task": f"k={arg}" if task == "knn" else f"r<={arg}",
                "method": method,
                "seconds_per_call": seconds,
                "comparisons_per_s": cps,
                "vs_raw_faiss": cps / raw_cps,
                "vs_fastest_backend": seconds / fastest,
                "vs_bandwidth_bound": cps / bound,
                "fit_seconds": fit_s.get(method),
            }
            if method == "auto":
                index = indexes["auto"]
                qs = q(0)
                row["auto_picks"] = (
                    index._knn_backend(arg, qs) if task == "knn"
                    else index._radius_backend(arg, qs)
                )
            rows.append(row)
    return rows


def markdown(rows):
    lines = [
        "| data | codes | bits | queries | task | method | time / call | "
        "comparisons/s | × raw FAISS | ÷ fastest backend | ÷ bandwidth bound |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        method = r["method"]
        if "auto_picks" in r:
            method = f"auto → {r['auto_picks']}"
        lines.append(
            f"| {r['data']} | {r['n_codes']:,} | {r['bits']} | {r['n_queries']} | "
            f"{r['task']} | {method} | {r['seconds_per_call'] * 1e3:.2f} ms | "
            f"{r['comparisons_per_s'] / 1e9:.2f} G | {r['vs_raw_faiss']:.2f} | "
            f"{r['vs_fastest_backend']:.2f} | {r['vs_bandwidth_bound']:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=["random", "learned"], default="random")
    parser.add_argument("--n-codes", type=int, default=1_000_000)
    parser.add_argument("--bits", type=int, nargs="+", default=None,
                        help="code lengths (default: 64 256 random, 48 learned)")
    parser.add_argument("--queries", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--k", type=int, nargs="+", default=[10])
    parser.add_argument("--radius", type=int, nargs="+", default=[2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flip", type=float, default=0.02,
                        help="learned data: bit-flip probability of the copies")
    parser.add_argument("--cache", help="learned data: .npz cache of the ITQ codes")
    parser.add_argument("--json", help="write the rows as JSON here")
    parser.add_argument("--markdown", help="write the table as markdown here")
    args = parser.parse_args(argv)
    bits_list = args.bits or ([48] if args.data == "learned" else [64, 256])
    load_before = os.getloadavg()
    start = time.perf_counter()
    rows, shapes = [], {}
    n_queries = max(*args.queries, 20)
    for bits in bits_list:
        if args.data == "learned":
            db, queries = learned_data(
                args.n_codes, bits, n_queries, args.flip, cache=args.cache
            )
        else:
            db, queries = random_data(args.n_codes, bits, n_queries)
        shapes[bits] = describe(db, queries, bits, max(args.k), max(args.radius))
        print(json.dumps({"bits": bits, "n_codes": len(db), **shapes[bits]}),
              flush=True)
        rows += run(db, queries, bits, args.queries, args.k, args.radius,
                    args.repeats, data=args.data)
    meta = {
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": 1,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "wall_seconds": time.perf_counter() - start,
        "numpy": np.__version__,
        "data_shape": shapes,
    }
    table = markdown(rows)
    print(table)
    print(json.dumps(meta))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
