"""The public benchmark harness (sklhash.benchmark) on small digits splits."""

import json
import os

import numpy as np
import pytest

from sklhash import metrics
from sklhash._registry import HASHERS
from sklhash.benchmark import (
    METHODS,
    BenchmarkData,
    environment,
    evaluate_codes,
    load_benchmark_data,
    make_method,
    run_benchmark,
    write_report,
)
from sklhash.hashers.classic import LSHHasher


@pytest.fixture(scope="module")
def data():
    return load_benchmark_data("digits", max_train=300, max_query=60)


@pytest.fixture(scope="module")
def rows(data):
    return run_benchmark(
        data,
        ["itq", ("my-lsh", lambda bits, seed: LSHHasher(bits, random_state=seed))],
        bits=[8],
        seeds=[0, 1],
        k=50,
        threads=1,
    )


def test_methods_come_from_the_table():
    assert list(METHODS) == [spec.method for spec in HASHERS]


def test_make_method_passes_what_the_class_takes():
    est = make_method("pca-householder", 16, 3, device="cpu", max_epochs=2)
    assert (est.bits, est.projection, est.random_state, est.max_epochs) == (
        16, "pca", 3, 2
    )
    assert make_method("pcah", 8, seed=5, n_jobs=2).get_params() == {"bits": 8}
    assert make_method("dpsh", 8, n_jobs=2).n_jobs == 2
    assert make_method("dpsh", 8).n_jobs is None  # the class's own default
    with pytest.raises(ValueError, match="PCAHasher has no parameter 'lr'"):
        make_method("pcah", 8, lr=0.1)
    with pytest.raises(ValueError, match="method='nope' is unknown"):
        make_method("nope", 8)


def test_rows(rows):
    assert [(r["method"], r["seed"]) for r in rows] == [
        ("itq", 0), ("itq", 1), ("my-lsh", 0), ("my-lsh", 1)
    ]
    from sklhash.hashers.classic import ITQHasher

    assert rows[0]["params"]["bits"] == 8
    assert rows[0]["params"]["n_iter"] == ITQHasher().n_iter
    assert [r["params"]["random_state"] for r in rows] == [0, 1, 0, 1]
    assert "epochs" not in rows[0]  # not trained in epochs


def test_evaluate_codes_is_the_metrics(data):
    est = LSHHasher(12, random_state=0).fit(data.X_train)
    q, db = est.transform(data.X_query), est.transform(data.X_db)
    row = evaluate_codes(q, db, data.y_query, data.y_db, k=20, n_bits=12)
    assert row["mAP@20"] == pytest.approx(
        metrics.mean_average_precision(q, db, data.y_query, data.y_db, k=20)
    )
    p, r = metrics.precision_recall_at_radius(q, db, data.y_query, data.y_db, radius=2)
    assert (row["P@r<=2"], row["R@r<=2"]) == (pytest.approx(p), pytest.approx(r))
    assert len(row["pr_precision"]) == 13


def test_named_report_is_a_set(rows, data, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("kept")
    paths = write_report(rows, tmp_path, data, name="run")
    assert sorted(os.listdir(tmp_path)) == [
        "notes.txt", "run.json", "run.md", "run_pr_curves.png"
    ]
    assert [os.path.basename(p) for p in paths] == [
        "run.json", "run.md", "run_pr_curves.png"
    ]
    write_report(rows[:2], tmp_path, data, name="run", plot=False)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "run.json", "run.md"]
    assert len(json.loads((tmp_path / "run.json").read_text())["runs"]) == 2
    assert other.read_text() == "kept"


def test_report_folder_checks(rows, data, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="holds 'notes.txt'"):
        write_report(rows, tmp_path, data)
    with pytest.raises(ValueError, match="is a file"):
        write_report(rows, tmp_path / "notes.txt", data)
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_environment():
    env = environment("cpu", threads=1)
    assert env["threads"] == 1 and env["device"] == "cpu"
    assert {"python", "sklhash", "numpy", "scikit-learn"} <= set(env["versions"])
    assert env["machine"]["cpus"] >= 1


def test_plot_style_stable_across_subsets():
    pytest.importorskip("matplotlib")
    from sklhash.benchmark import _style

    styles = [tuple(map(str, _style(spec.method).values())) for spec in HASHERS]
    assert len(set(styles)) == len(styles)  # distinct colour-marker pairs
    assert _style("csq") == _style("csq")
    assert _style("my label") == _style("my label")


def test_custom_split(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 10))
    y = (X[:, 0] > 0).astype(int)
    data = BenchmarkData("toy", X[:60], y[:60], X[60:], y[60:])
    [row] = run_benchmark(data, ["lsh"], bits=[4], k=10, threads=1)
    assert row["dataset"] == "toy" and 0 <= row["mAP@10"] <= 1


def test_report_without_matplotlib(rows, data, tmp_path, monkeypatch):
    import sys

    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.warns(UserWarning, match=r"sklhash\[plot\]"):
        paths = write_report(rows, tmp_path / "r", data)
    assert sorted(os.listdir(tmp_path / "r")) == ["results.json", "results.md"]
    assert len(paths) == 2
