"""The ``sklhash`` command, called in-process on digits with tiny settings."""

import json
import os

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklhash.cli import main


def test_benchmark_writes_report(tmp_path, capsys):
    out = tmp_path / "bench"
    code = main(
        [
            "benchmark",
            "--methods",
            "lsh",
            "itq",
            "--bits",
            "8",
            "16",
            "--seeds",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "4/8" in printed and "| itq | 16 |" in printed
    payload = json.loads((out / "results.json").read_text())
    assert payload["n_queries"] == 300 and payload["n_database"] == 1497
    assert len(payload["runs"]) == 8
    summary = {(s["method"], s["bits"]): s for s in payload["summary"]}
    assert summary[("itq", 16)]["mAP@1000"] > summary[("lsh", 16)]["mAP@1000"]
    run = payload["runs"][0]
    assert len(run["pr_precision"]) == run["bits"] + 1
    assert "| lsh | 8 |" in (out / "results.md").read_text()
    assert (out / "pr_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in os.listdir(out) if p.startswith(".tmp")]


def test_fit_encode_search_evaluate(tmp_path, capsys):
    model = tmp_path / "itq.joblib"
    assert main(["fit", "--method", "itq", "--bits", "16", "--out", str(model)]) == 0
    X, y = load_digits(return_X_y=True)
    np.save(tmp_path / "X.npy", X / 16.0)
    np.save(tmp_path / "y.npy", y)
    codes = tmp_path / "codes.npy"
    assert (
        main(["encode", str(model), str(tmp_path / "X.npy"), "--out", str(codes)]) == 0
    )
    c = np.load(codes)
    assert c.dtype == np.uint8 and c.shape == (len(X), 2)
    capsys.readouterr()
    assert main(["search", str(codes), str(codes), "-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(X)
    # Each item is its own nearest neighbour at distance 0 (or ties before it
    # with a smaller index, also at distance 0).
    assert lines[0].split("\t")[1].split()[0] == "0:0"
    assert (
        main(
            [
                "search",
                str(codes),
                str(codes),
                "-k",
                "3",
                "--out",
                str(tmp_path / "nn.npz"),
            ]
        )
        == 0
    )
    with np.load(tmp_path / "nn.npz") as nn:
        assert nn["indices"].shape == (len(X), 3)
    capsys.readouterr()
    y_path = str(tmp_path / "y.npy")
    assert main(["evaluate", str(codes), str(codes), y_path, y_path, "-k", "100"]) == 0
    out = capsys.readouterr().out
    assert "mAP@100" in out and "P@r<=2" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["benchmark", "--methods", "nope"], "unknown method 'nope'"),
        (["benchmark", "--dataset", "cifar100"], "needs data_path"),
        (
            ["benchmark", "--dataset", "fashion-mnist", "--data-path", "/nonexistent"],
            "cannot load dataset 'fashion-mnist'",
        ),
        (["benchmark", "--bits", "0"], "expected a positive integer"),
        (
            ["fit", "--method", "itq", "--out", "/nonexistent/dir/m.joblib"],
            "does not exist",
        ),
        (
            ["encode", "/nonexistent.joblib", "x.npy", "--out", "c.npy"],
            "does not exist",
        ),
        (["search", "/nonexistent.npy", "/nonexistent.npy"], "does not exist"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sklhash: error:")
    assert message in err
    assert "Traceback" not in err


def test_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    assert main(["search", str(bad), str(bad)]) == 2
    assert "not a readable .npy" in capsys.readouterr().err
    floats = tmp_path / "f.npy"
    np.save(floats, np.zeros((3, 2)))
    assert main(["search", str(floats), str(floats)]) == 2
    assert "uint8" in capsys.readouterr().err
    junk = tmp_path / "m.joblib"
    junk.write_bytes(b"junk")
    assert (
        main(["encode", str(junk), str(floats), "--out", str(tmp_path / "c.npy")]) == 2
    )
    assert "could not be loaded" in capsys.readouterr().err
    assert not (tmp_path / "c.npy").exists()


def test_help_for_every_subcommand(capsys):
    for sub in ["benchmark", "fit", "encode", "search", "evaluate"]:
        with pytest.raises(SystemExit) as exc:
            main([sub, "--help"])
        assert exc.value.code == 0
        assert "usage: sklhash " + sub in capsys.readouterr().out
