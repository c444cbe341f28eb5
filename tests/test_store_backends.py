"""Database indexes against a real PostgreSQL server and a real DuckDB file.

The PostgreSQL server is a throwaway cluster this module starts (see
tests/_pg.py); nothing is mocked. Every exact result is compared with
HammingIndex over the same codes taken in id order.
"""

import threading
import uuid

# The db extra (duckdb, psycopg) is part of the README's install line: a
# missing driver is a collection error here, not a skip.
import duckdb
import numpy as np
import psycopg
import pytest
from _pg import start_cluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklhash.codes import pack_codes
from sklhash.neighbors import HammingIndex
from sklhash.store import DuckDBHammingIndex, PostgresHammingIndex

WIDTHS = [1, 7, 8, 63, 64, 65, 256]
BACKENDS = ["postgres", "duckdb"]


@pytest.fixture(scope="module")
def pg_dsn():
    """A throwaway PostgreSQL server for this module (one per xdist worker)."""
    cluster = start_cluster()
    try:
        yield cluster.dsn
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def duck_path(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("duck") / "codes.duckdb")
    # Holding one connection keeps the database open between tests; otherwise
    # DuckDB checkpoints and closes the file whenever the last index closes.
    with duckdb.connect(path):
        yield path


@pytest.fixture
def make_index(pg_dsn, duck_path):
    """Factory: a new index on a fresh table; all closed after the test."""
    opened = []

    def make(backend, table=None, **kwargs):
        table = f"t_{uuid.uuid4().hex[:12]}" if table is None else table
        if backend == "postgres":
            index = PostgresHammingIndex(pg_dsn, table, **kwargs)
        else:
            index = DuckDBHammingIndex(duck_path, table, **kwargs)
        opened.append(index)
        return index

    yield make
    for index in opened:
        index.close()


def reference(codes, ids, n_bits):
    """HammingIndex over the codes in id order, and the id of each position."""
    order = np.argsort(ids, kind="stable")
    return HammingIndex(backend="numpy", n_bits=n_bits).fit(codes[order]), ids[order]


def random_codes(rng, n, n_bits, pool=None):
    """Codes drawn from a small pool of distinct codes, so that ties abound."""
    pool = pool or max(2, n // 3)
    base = pack_codes(rng.integers(0, 2, size=(pool, n_bits)))
    return base[rng.integers(0, pool, size=n)]


# -- exactness: the same answers as HammingIndex --------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_bits", WIDTHS)
# The factory is shared by the examples on purpose: each makes its own table.
@settings(max_examples=4, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_same_answers_as_hamming_index(make_index, backend, n_bits, n, seed, data):
    rng = np.random.default_rng(seed)
    codes = random_codes(rng, n, n_bits)
    ids = rng.choice(np.arange(-(10**12), 10**12, 10**9), size=n, replace=False)
    queries = np.concatenate([codes[:3], random_codes(rng, 4, n_bits)])
    k = data.draw(st.integers(1, n))
    radius = data.draw(st.integers(0, n_bits))
    index = make_index(backend, n_bits=n_bits)
    assert np.array_equal(index.add(codes, ids=ids), ids)
    ref, ref_ids = reference(codes, ids, n_bits)

    dist, got = index.kneighbors(queries, n_neighbors=k)
    ref_dist, pos = ref.kneighbors(queries, n_neighbors=k)
    assert dist.dtype == np.int32 and got.dtype == np.int64
    assert np.array_equal(dist, ref_dist)
    assert np.array_equal(got, ref_ids[pos])

    rdist, rids = index.radius_neighbors(queries, radius)
    ref_rdist, ref_pos = ref.radius_neighbors(queries, radius)
    for i in range(len(queries)):
        assert np.array_equal(rdist[i], ref_rdist[i])
        assert np.array_equal(rids[i], ref_ids[ref_pos[i]])
    index.drop()
    index.close()  # one connection per example, not one per example kept open


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_bits", WIDTHS)
def test_codes_round_trip_bit_order(make_index, backend, n_bits, rng):
    # One bit set at each position, then random codes: reading them back
    # gives the same packed rows, and a single-bit code is at distance 1 from
    # zero, whatever the width (padding never counts).
    eye = pack_codes(np.eye(n_bits, dtype=bool))
    codes = np.concatenate([eye, random_codes(rng, 20, n_bits)])
    index = make_index(backend)
    index.add(codes, metadata=[{"row": i} for i in range(len(codes))])
    assert index.n_bits_ == 8 * codes.shape[1]  # no n_bits: whole bytes
    index.drop()
    index = make_index(backend, n_bits=n_bits)
    ids = index.add(codes)
    assert np.array_equal(ids, np.arange(len(codes)))
    back, meta = index.get(ids[::-1])
    assert np.array_equal(back, codes[::-1])
    assert meta == [None] * len(codes)
    zero = np.zeros((1, codes.shape[1]), dtype=np.uint8)
    dist, got = index.radius_neighbors(zero, 1)
    found = dict(zip(got[0].tolist(), dist[0].tolist(), strict=True))
    assert all(found.get(i) == 1 for i in range(n_bits))
    if backend == "postgres":
        # The database's own bit string reads like unpackbits: bit 0 first.
        with index._conn.cursor() as cur:
            cur.execute(
                psycopg.sql.SQL("SELECT code::text FROM {} WHERE id = 0").format(
                    psycopg.sql.Identifier(index.table)
                )
            )
            assert cur.fetchone()[0] == "1" + "0" * (n_bits - 1)
    else:
        word = index._conn.execute(f'SELECT w0 FROM "{index.table}" WHERE id = 0')
        assert word.fetchone()[0] == 1 << 63


# -- ids, metadata, remove, fit ------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_ids_metadata_remove_and_fit(make_index, backend, rng):
    codes = random_codes(rng, 30, 16)
    index = make_index(backend)
    assert len(index) == 0
    first = index.add(codes[:10], ids=np.arange(100, 110))
    auto = index.add(codes[10:20])  # numbered on from the largest id
    assert np.array_equal(first, np.arange(100, 110))
    assert np.array_equal(auto, np.arange(110, 120))
    meta = [{"title": f"item {i}", "tags": ["a", i]} for i in range(10)]
    meta[3] = None
    more = index.add(codes[20:], ids=np.arange(-10, 0), metadata=meta)
    assert len(index) == index.n_codes_ == 30
    got_codes, got_meta = index.get(more)
    assert np.array_equal(got_codes, codes[20:]) and got_meta == meta

    all_ids = np.concatenate([first, auto, more])
    index.remove(all_ids[::2])
    keep = np.ones(30, dtype=bool)
    keep[::2] = False
    ref, ref_ids = reference(codes[keep], all_ids[keep], 16)
    dist, got = index.kneighbors(codes, n_neighbors=15)
    ref_dist, pos = ref.kneighbors(codes, n_neighbors=15)
    assert np.array_equal(dist, ref_dist) and np.array_equal(got, ref_ids[pos])
    assert not np.isin(got, all_ids[::2]).any()

    with pytest.raises(ValueError, match=r"ids not in table .*\[100\]; nothing"):
        index.remove([all_ids[1], 100])  # 100 is gone: nothing removed
    assert len(index) == 15
    with pytest.raises(ValueError, match="Expected n_neighbors <= the number"):
        index.kneighbors(codes[:1], n_neighbors=16)

    snap_ids, snap_codes = index.export()
    assert np.array_equal(snap_ids, np.sort(all_ids[keep]))
    assert np.array_equal(snap_codes, codes[keep][np.argsort(all_ids[keep])])
    index.fit(codes[:5], metadata=[{"i": i} for i in range(5)])  # replaces all
    assert len(index) == 5
    assert index.get([4])[1] == [{"i": 4}]
    index.drop()
    assert len(index) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_add_changes_nothing(make_index, backend, rng):
    codes = random_codes(rng, 10, 64)
    index = make_index(backend)
    index.add(codes, ids=np.arange(10))
    # A clash in the middle of a batch: the whole batch is refused.
    with pytest.raises(ValueError, match="ids already in table"):
        index.add(codes, ids=np.arange(5, 15))
    assert len(index) == 10
    index.fit(codes[:3])  # ids 0, 1, 2
    with pytest.raises(ValueError, match="ids already in table"):
        index.add(codes[:2], ids=[7, 2])
    assert len(index) == 3
    assert np.array_equal(index.get([0, 1, 2])[0], codes[:3])


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_adds_from_two_connections_lose_nothing(make_index, backend, rng):
    table = f"t_{uuid.uuid4().hex[:12]}"
    first = make_index(backend, table, n_bits=32)
    second = make_index(backend, table, n_bits=32)
    codes = random_codes(rng, 400, 32)
    errors = []

    def writer(index, part):
        try:
            for chunk in np.array_split(part, 8):
                index.add(chunk)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(first, codes[:200])),
        threading.Thread(target=writer, args=(second, codes[200:])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(first) == len(second) == 400
    dist, ids = first.kneighbors(codes[:1], n_neighbors=400)
    assert np.array_equal(np.sort(ids[0]), np.arange(400))
    first.drop()


# -- hostile input is stored or refused, never executed ----------------------------

HOSTILE = [
    "x'); DROP TABLE victim; --",
    'x"; DROP TABLE victim; --',
    "Robert'); DELETE FROM victim WHERE ('1'='1",
    "$1 %s {t} \\",
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sql_injection_is_stored_or_refused(make_index, backend, rng):
    codes = random_codes(rng, 4, 8)
    victim = make_index(backend, "victim")
    victim.add(codes)
    for name in HOSTILE:
        index = make_index(backend, name)
        meta = [{"title": s, s: s} for s in HOSTILE]
        index.add(codes, metadata=meta)
        assert index.get(np.arange(4))[1] == meta
        assert make_index(backend, name).table == name  # the table exists by that name
        index.drop()
    for bad_ids in (["1; DROP TABLE victim"], [1.5], np.array([b"1"])):
        with pytest.raises(ValueError, match="ids must be integers"):
            victim.add(codes[:1], ids=bad_ids)
        with pytest.raises(ValueError, match="ids must be integers"):
            victim.remove(bad_ids)
    assert len(victim) == 4
    victim.drop()


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_input(make_index, backend, rng):
    index = make_index(backend, n_bits=12)
    with pytest.raises(ValueError, match="does not exist yet; add codes"):
        index.kneighbors(np.zeros((1, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="codes must have dtype uint8"):
        index.add(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="n_bits=12 does not fit codes of 1 bytes"):
        index.add(np.zeros((2, 1), dtype=np.uint8))
    index.add(random_codes(rng, 5, 12))
    with pytest.raises(ValueError, match=r"queries are codes of 3 bytes .*n_bits=12"):
        index.kneighbors(np.zeros((1, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="non-zero padding bits beyond n_bits=12"):
        index.add(np.full((1, 2), 255, dtype=np.uint8))
    with pytest.raises(ValueError, match="queries must have dtype uint8"):
        index.radius_neighbors(np.zeros((1, 2), dtype=np.float64), 1)
    with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
        index.kneighbors(np.zeros((1, 2), dtype=np.uint8), n_neighbors=0)
    with pytest.raises(ValueError, match="radius must be a finite number"):
        index.radius_neighbors(np.zeros((1, 2), dtype=np.uint8), -1)
    with pytest.raises(ValueError, match="one id per code: got 2 ids for 1"):
        index.add(np.zeros((1, 2), dtype=np.uint8), ids=[1, 2])
    with pytest.raises(ValueError, match=r"metadata\[0\] is not JSON-serialisable"):
        index.add(np.zeros((1, 2), dtype=np.uint8), metadata=[{"x": object()}])
    with pytest.raises(ValueError, match="n_bits=16 but table .* holds 12-bit codes"):
        make_index(backend, index.table, n_bits=16)
    with pytest.raises(ValueError, match="table must be at most 63 bytes"):
        make_index(backend, "t" * 64)
    with pytest.raises(ValueError, match="table must be a non-empty string"):
        make_index(backend, "")
    assert len(index) == 5


def test_foreign_and_other_version_tables_are_refused(make_index, pg_dsn, duck_path):
    import json

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id bigint primary key, code bit(8))")
        conn.execute("CREATE TABLE old_codes (id bigint primary key, code bit(8))")
        marker = json.dumps({"sklhash_store": 99, "n_bits": 8, "sklhash": "9.0"})
        conn.execute(f"COMMENT ON TABLE old_codes IS '{marker}'")
    with duckdb.connect(duck_path) as conn:
        conn.execute("CREATE TABLE users (id BIGINT, w0 UBIGINT)")
        conn.execute("CREATE TABLE old_codes (id BIGINT, w0 UBIGINT)")
        conn.execute(f"COMMENT ON TABLE old_codes IS '{marker}'")
    for backend in BACKENDS:
        with pytest.raises(ValueError, match="'users' .* is not a sklhash store"):
            make_index(backend, "users")
        with pytest.raises(
            ValueError, match=r"layout version 99 \(written by sklhash '9.0'\)"
        ):
            make_index(backend, "old_codes")


# -- PostgreSQL only ------------------------------------------------------------------


def test_connection_dropped_mid_copy_leaves_table_as_before(make_index, pg_dsn, rng):
    index = make_index("postgres", n_bits=64)
    codes = random_codes(rng, 3000, 64)
    index.add(codes[:100])
    before = index.kneighbors(codes[:5], n_neighbors=20)
    with psycopg.connect(pg_dsn) as blocker, psycopg.connect(pg_dsn) as admin:
        admin.autocommit = True
        pid = index._conn.info.backend_pid
        # An uncommitted row with id 1500 makes the COPY wait on it after it
        # has loaded the rows before: a deterministic "mid-COPY".
        blocker.execute(
            psycopg.sql.SQL(
                "INSERT INTO {} (id, code) VALUES (1500, %s::bit(64))"
            ).format(psycopg.sql.Identifier(index.table)),
            ["0" * 64],
        )
        errors = []

        def load():
            try:
                index.add(codes[100:], ids=np.arange(100, 3000))
            except Exception as exc:  # the expected failure, checked below
                errors.append(exc)

        thread = threading.Thread(target=load)
        thread.start()
        processed = 0
        for _ in range(400):
            row = admin.execute(
                "SELECT p.tuples_processed, a.wait_event_type "
                "FROM pg_stat_progress_copy p JOIN pg_stat_activity a USING (pid) "
                "WHERE pid = %s",
                [pid],
            ).fetchone()
            if row and row[1] == "Lock":
                processed = row[0]
                break
            threading.Event().wait(0.025)
        assert processed > 0, "the COPY never got to wait mid-stream"
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        thread.join(timeout=30)
        blocker.rollback()
    assert errors and isinstance(errors[0], psycopg.OperationalError)
    again = make_index("postgres", index.table)
    assert len(again) == 100
    after = again.kneighbors(codes[:5], n_neighbors=20)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_missing_server_message_hides_password(tmp_path):
    dsn = f"postgresql://alice:s3cr3t@/db?host={tmp_path}/nowhere"
    with pytest.raises(ValueError, match="cannot connect to PostgreSQL") as info:
        PostgresHammingIndex(dsn)
    assert "s3cr3t" not in str(info.value)
    assert "postgresql://alice:***@/db" in str(info.value)
    with pytest.raises(ValueError, match="unknown DSN scheme 'mysql'"):
        PostgresHammingIndex("mysql://bob:pw@host/db")


def test_parallel_workers_and_existing_connection(make_index, pg_dsn, rng):
    codes = random_codes(rng, 50, 64)
    table = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn) as conn:  # not autocommit: we must not leave it open
        index = PostgresHammingIndex(conn, table, parallel_workers=2)
        index.add(codes)
        ref, ref_ids = reference(codes, np.arange(50), 64)
        dist, got = index.kneighbors(codes, n_neighbors=7)
        ref_dist, pos = ref.kneighbors(codes, n_neighbors=7)
        assert np.array_equal(dist, ref_dist) and np.array_equal(got, ref_ids[pos])
        index.close()  # does not close a connection it did not open
        assert not conn.closed
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with pytest.raises(ValueError, match="parallel_workers must be None or an int"):
        PostgresHammingIndex(pg_dsn, table, parallel_workers=-1)


# -- DuckDB only --------------------------------------------------------------------


def test_duckdb_file_persists_and_reopens(tmp_path, rng):
    path = tmp_path / "shipped.duckdb"
    codes = random_codes(rng, 20, 65)
    with DuckDBHammingIndex(path, n_bits=65) as index:
        index.add(codes, ids=np.arange(20) * 7)
    with DuckDBHammingIndex(str(path)) as index:  # n_bits from the marker
        assert index.n_bits_ == 65 and len(index) == 20
        assert np.array_equal(index.get([7])[0], codes[1:2])
    with pytest.raises(ValueError, match="folder .* does not exist"):
        DuckDBHammingIndex(tmp_path / "no" / "such.duckdb")
    (tmp_path / "junk.duckdb").write_bytes(b"not a database" * 100)
    with pytest.raises(ValueError, match="cannot open DuckDB database"):
        DuckDBHammingIndex(tmp_path / "junk.duckdb")


def test_pgvector_needs_the_extension(pg_dsn):
    from sklhash.store import PgvectorHammingIndex

    with pytest.raises(ValueError, match="has no pgvector extension"):
        PgvectorHammingIndex(pg_dsn)


# -- open_index -----------------------------------------------------------------


def test_open_index_picks_the_backend(pg_dsn, tmp_path, rng):
    from sklhash.store import driver_errors, open_index

    assert set(driver_errors()) == {psycopg.Error, duckdb.Error}

    codes = random_codes(rng, 12, 64)
    for uri in (pg_dsn, str(tmp_path / "a.duckdb"), f"duckdb:{tmp_path / 'b.db'}"):
        with open_index(uri, table="shared", n_bits=64) as index:
            expected = PostgresHammingIndex if uri == pg_dsn else DuckDBHammingIndex
            assert type(index) is expected
            index.add(codes)
        with open_index(uri, table="shared") as index:
            assert index.n_bits_ == 64 and len(index) == 12
            assert np.array_equal(index.kneighbors(codes[:1], 1)[1], [[0]])
            index.drop()
    missing = tmp_path / "missing.duckdb"
    with pytest.raises(ValueError, match="DuckDB file .* does not exist"):
        open_index(str(missing), create=False)
    assert not missing.exists()
    for uri in (pg_dsn, str(tmp_path / "a.duckdb")):
        with pytest.raises(ValueError, match="table 'nope' does not exist"):
            open_index(uri, table="nope", create=False)
    for bad in ("mysql://u:pw@h/db", "codes.npy", "sqlite:///x.db", ""):
        with pytest.raises(ValueError, match="unknown index location|non-empty") as e:
            open_index(bad)
        assert "pw@" not in str(e.value)


@pytest.mark.parametrize(
    "dsn, shown",
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgres://u:p%40ss@h/db?sslmode=require",
            "postgres://u:***@h/db?sslmode=require",
        ),
        (
            "postgresql://h/db?user=u&password=pw&x=1",
            "postgresql://h/db?user=u&password=***&x=1",
        ),
        ("host=h password=pw dbname=db", "host=h password=*** dbname=db"),
        ("host=h password='p w' dbname=db", "host=h password=*** dbname=db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_mask_dsn(dsn, shown):
    from sklhash.store._postgres import mask_dsn

    assert mask_dsn(dsn) == shown
