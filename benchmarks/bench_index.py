"""Throughput of HammingIndex's backends beside raw FAISS IndexBinaryFlat.

Random codes (the worst case for multi-index hashing, a fair one for linear
scans), 1 and 1,000 queries, k-NN (k=10) and radius search (r=2). Every
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


def run(n_codes, bits_list, query_counts, k, radius, repeats, seed=0, single_calls=20):
    import faiss

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(seed)
    rows = []
    for bits in bits_list:
        width = bits // 8
        db = rng.integers(0, 256, (n_codes, width), dtype=np.uint8)
        n_queries = max(*query_counts, single_calls)
        queries = rng.integers(0, 256, (n_queries, width), dtype=np.uint8)
        raw = faiss.IndexBinaryFlat(bits)
        raw.add(db)
        indexes = {}
        fit_s = {}
        for backend in ("numpy", "faiss", "mih"):
            t = time.perf_counter()
            indexes[backend] = HammingIndex(backend, n_jobs=1).fit(db)
            fit_s[backend] = time.perf_counter() - t
        for nq in query_counts:
            # One query a call for nq == 1 (a different query each call).
            calls = single_calls if nq == 1 else 1

            def q(i, nq=nq, queries=queries):
                return queries[i : i + 1] if nq == 1 else queries[:nq]

            methods = {
                ("knn", "raw faiss"): lambda i, q=q, raw=raw: raw.search(q(i), k),
                ("radius", "raw faiss"): lambda i, q=q, raw=raw: raw.range_search(
                    q(i), radius + 1
                ),
            }
            for backend, index in indexes.items():
                methods[("knn", backend)] = (
                    lambda i, q=q, index=index: index.kneighbors(q(i), k)
                )
                methods[("radius", backend)] = (
                    lambda i, q=q, index=index: index.radius_neighbors(q(i), radius)
                )
            best = {key: np.inf for key in methods}
            outputs = {}
            for _ in range(repeats):
                for key, fn in methods.items():
                    seconds, out = _time(fn, calls)
                    best[key] = min(best[key], seconds)
                    outputs[key] = out
            # All sklhash backends must agree exactly (on the last call).
            for task in ("knn", "radius"):
                ref = outputs[(task, "numpy")]
                for backend in ("faiss", "mih"):
                    got = outputs[(task, backend)]
                    if task == "knn":
                        pairs = zip(ref, got, strict=True)
                    else:
                        pairs = zip(ref[1], got[1], strict=True)
                    assert all(np.array_equal(a, b) for a, b in pairs)
            bound = BANDWIDTH_BYTES_PER_S / width
            for (task, method), seconds in best.items():
                cps = nq * n_codes / seconds
                raw_cps = nq * n_codes / best[(task, "raw faiss")]
                rows.append(
                    {
                        "bits": bits,
                        "n_codes": n_codes,
                        "n_queries": nq,
                        "task": f"k={k}" if task == "knn" else f"r<={radius}",
                        "method": method,
                        "seconds_per_call": seconds,
                        "comparisons_per_s": cps,
                        "vs_raw_faiss": cps / raw_cps,
                        "vs_bandwidth_bound": cps / bound,
                        "fit_seconds": fit_s.get(method),
                    }
                )
    return rows


def markdown(rows):
    lines = [
        "| bits | queries | task | method | time / call | comparisons/s | "
        "× raw FAISS | ÷ bandwidth bound |",
        "|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['bits']} | {r['n_queries']} | {r['task']} | {r['method']} | "
            f"{r['seconds_per_call'] * 1e3:.2f} ms | "
            f"{r['comparisons_per_s'] / 1e9:.2f} G | {r['vs_raw_faiss']:.2f} | "
            f"{r['vs_bandwidth_bound']:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-codes", type=int, default=1_000_000)
    parser.add_argument("--bits", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--queries", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--radius", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the rows as JSON here")
    parser.add_argument("--markdown", help="write the table as markdown here")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    start = time.perf_counter()
    rows = run(args.n_codes, args.bits, args.queries, args.k, args.radius, args.repeats)
    meta = {
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "wall_seconds": time.perf_counter() - start,
        "numpy": np.__version__,
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
