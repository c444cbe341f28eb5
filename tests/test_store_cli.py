"""The command line's database options: encode --to, search --index.

Against the throwaway PostgreSQL server of tests/_pg.py and a DuckDB file.
"""

import numpy as np
import pytest
from _pg import start_cluster
from sklearn.datasets import load_digits

from sklhash import ITQHasher
from sklhash.cli import main
from sklhash.persistence import save


@pytest.fixture(scope="module")
def pg_dsn():
    cluster = start_cluster()
    try:
        yield cluster.dsn
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_store")
    X, _ = load_digits(return_X_y=True)
    hasher = ITQHasher(bits=20, random_state=0).fit(X)
    save(hasher, folder / "model.skl")
    np.save(folder / "X.npy", X[:60])
    np.save(folder / "Q.npy", hasher.transform(X[:3]))
    np.save(folder / "ids.npy", np.arange(60, dtype=np.int64) * 3)
    return folder, hasher.transform(X[:60]), hasher.transform(X[:3])


@pytest.mark.parametrize("backend", ["postgres", "duckdb"])
def test_encode_to_and_search_index(backend, pg_dsn, files, capsys):
    folder, codes, queries = files
    where = pg_dsn if backend == "postgres" else str(folder / "codes.duckdb")
    table = f"cli_{backend}"
    model, X, ids = (str(folder / f) for f in ("model.skl", "X.npy", "ids.npy"))
    args = ["encode", model, X, "--to", where, "--table", table, "--ids", ids]
    assert main(args) == 0
    assert "added 60 codes (ids 0..177)" in capsys.readouterr().out
    # The same ids again: refused as a whole, one line, exit 2.
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "ids already in table" in err and err.count("\n") == 1

    out = folder / f"{backend}.npz"
    assert (
        main(
            [
                "search",
                "--index",
                where,
                "--table",
                table,
                str(folder / "Q.npy"),
                "-k",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    got = np.load(out)
    from sklhash.neighbors import HammingIndex

    ref_dist, pos = HammingIndex().fit(codes).kneighbors(queries, n_neighbors=4)
    assert np.array_equal(got["distances"], ref_dist)
    assert np.array_equal(got["indices"], (np.arange(60) * 3)[pos])

    assert (
        main(["search", "--index", where, "--table", "absent", str(folder / "Q.npy")])
        == 2
    )
    assert "table 'absent' does not exist" in capsys.readouterr().err


def test_bad_database_options(files, capsys, tmp_path):
    folder, _, _ = files
    model, X, Q = (str(folder / f) for f in ("model.skl", "X.npy", "Q.npy"))
    cases = [
        (["encode", model, X], "exactly one of --out FILE and --to DATABASE"),
        (
            ["encode", model, X, "--to", "mysql://u:s3cret@h/db"],
            "unknown index location",
        ),
        (["search", "--index", str(tmp_path / "none.duckdb"), Q], "does not exist"),
        (
            ["search", "--index", f"postgresql://u:s3cret@/db?host={tmp_path}", Q],
            "cannot connect to PostgreSQL",
        ),
        (["search", Q], "give the database and query codes files"),
        (["search", "--index", "x.duckdb", Q, Q], "with --index give only the query"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)
        assert "s3cret" not in err
