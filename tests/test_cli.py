"""The ``sklhash`` command on digits with tiny settings.

Most calls run in-process through ``main([...])``; the broken pipe and the
Ctrl-C tests run the real command in a subprocess and send real signals.
"""

import errno
import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from sklhash._registry import HASHERS
from sklhash.cli import _param, build_parser, main

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory):
    """Features and labels of 300 digits in every input format."""
    folder = tmp_path_factory.mktemp("digits")
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)
    np.savez(folder / "Xy.npz", X=X, y=y)
    np.savetxt(folder / "X.csv", X, delimiter=",", fmt="%.5f",
               header=",".join(f"f{i}" for i in range(64)), comments="")
    np.savetxt(folder / "y.csv", y, fmt="%d")
    return folder


@pytest.fixture(scope="module")
def codes_file(digits_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("codes")
    X = np.load(digits_files / "X.npy")
    codes = np.packbits(X[:, :16] > 0.3, axis=1)
    np.save(folder / "codes.npy", codes)
    np.save(folder / "empty.npy", codes[:0])
    return folder


def _one_error_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("sklhash: error:")
    assert "Traceback" not in err
    return err


# ------------------------------------------------------------------ benchmark
def test_benchmark_writes_report(tmp_path, capsys):
    out = tmp_path / "bench"
    argv = ["benchmark", "--methods", "lsh", "itq", "--bits", "8", "16",
            "--seeds", "2", "--out", str(out), "--threads", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "4/8" in printed and "| itq | 16 |" in printed
    payload = json.loads((out / "results.json").read_text())
    assert payload["n_queries"] == 300 and payload["n_database"] == 1497
    assert len(payload["runs"]) == 8
    summary = {(s["method"], s["bits"]): s for s in payload["summary"]}
    assert summary[("itq", 16)]["mAP@1000"] > summary[("lsh", 16)]["mAP@1000"]
    run = payload["runs"][0]
    assert len(run["pr_precision"]) == run["bits"] + 1
    # The record: command, versions, machine, parameters and seeds.
    assert payload["command"] == ["sklhash", *argv]
    env = payload["environment"]
    assert env["threads"] == 1 and env["versions"]["scikit-learn"]
    assert env["machine"]["cpus"] >= 1
    assert run["params"]["random_state"] == run["seed"]
    assert payload["settings"]["seeds"] == [0, 1]
    assert "| lsh | 8 |" in (out / "results.md").read_text()
    assert (out / "pr_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(os.listdir(out)) == ["pr_curves.png", "results.json", "results.md"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_benchmark_records_epochs(tmp_path, capsys):
    out = tmp_path / "bench"
    argv = ["benchmark", "--methods", "dpsh", "--bits", "8", "--epochs", "2",
            "--max-train", "200", "--max-query", "50", "--no-plot",
            "--threads", "1", "--out", str(out)]
    assert main(argv) == 0
    run = json.loads((out / "results.json").read_text())["runs"][0]
    assert run["epochs"] == 2 and run["params"]["max_epochs"] == 2
    assert run["params"]["n_jobs"] == 1  # --threads reaches the hasher


def test_report_replaced_as_a_set(tmp_path, capsys, monkeypatch):
    out = tmp_path / "bench"
    base = ["benchmark", "--methods", "lsh", "--bits", "8", "--out", str(out)]
    assert main(base) == 0
    before = {p: (out / p).read_bytes() for p in os.listdir(out)}
    assert "pr_curves.png" in before

    # Interrupted after one finished run: exit 130, the old set untouched.
    from sklhash import benchmark

    real = benchmark.run_benchmark

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(benchmark, "run_benchmark", interrupted)
    assert main([*base[:3], "itq", *base[3:]]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert {p: (out / p).read_bytes() for p in os.listdir(out)} == before
    monkeypatch.setattr(benchmark, "run_benchmark", real)

    # A new set without a figure leaves no stale figure beside it.
    assert main([*base, "--no-plot"]) == 0
    assert sorted(os.listdir(out)) == ["results.json", "results.md"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_benchmark_without_matplotlib(tmp_path, capsys, monkeypatch):
    # An import of matplotlib fails as if it were not installed.
    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "bench"
    assert main(["benchmark", "--methods", "lsh", "--bits", "8",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matplotlib is not installed" in err
    assert sorted(os.listdir(out)) == ["results.json", "results.md"]


# ---------------------------------------------------------- fit and friends
@pytest.mark.parametrize(
    "X_name, y_name",
    [("X.npy", "y.npy"), ("X.csv", "y.csv"), ("Xy.npz", "Xy.npz")],
)
def test_fit_on_user_data(digits_files, tmp_path, capsys, X_name, y_name):
    model = tmp_path / "model"
    argv = ["fit", "--method", "itq", "--bits", "16", "--X",
            str(digits_files / X_name), "--y", str(digits_files / y_name),
            "--preprocess", "standard", "--param", "n_iter=3", "--out", str(model)]
    assert main(argv) == 0
    assert "on 300 " in capsys.readouterr().out
    codes = tmp_path / "codes.npy"
    argv = ["encode", str(model), str(digits_files / X_name), "--out", str(codes),
            "--allow-pickle"]
    assert main(argv) == 0
    c = np.load(codes)
    assert c.dtype == np.uint8 and c.shape == (300, 2)


def test_fit_parquet(digits_files, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X = np.load(digits_files / "X.npy")
    pd.DataFrame(X, columns=[f"f{i}" for i in range(64)]).to_parquet(
        tmp_path / "X.parquet"
    )
    argv = ["fit", "--method", "lsh", "--bits", "8", "--X",
            str(tmp_path / "X.parquet"), "--out", str(tmp_path / "m")]
    assert main(argv) == 0


def test_fit_deep_with_param_and_hierarchy(digits_files, tmp_path, capsys):
    from sklhash.similarity import LabelHierarchy

    parents = {i: ("low" if i < 5 else "high") for i in range(10)}
    LabelHierarchy.from_parent_map(
        {**parents, "low": "root", "high": "root"}, classes=list(range(10))
    ).to_json(tmp_path / "h.json")
    model = tmp_path / "model"
    argv = ["fit", "--method", "semantic-kl", "--bits", "8", "--epochs", "1",
            "--X", str(digits_files / "X.npy"), "--y", str(digits_files / "y.npy"),
            "--hierarchy", str(tmp_path / "h.json"),
            "--param", "kl_weight=0.1", "--param", "hidden_layer_sizes=(16,)",
            "--threads", "1", "--out", str(model)]
    assert main(argv) == 0
    assert "1 epoch" in capsys.readouterr().out


def test_fit_encode_search_evaluate(tmp_path, capsys):
    model = tmp_path / "itq"
    assert main(["fit", "--method", "itq", "--bits", "16", "--out", str(model)]) == 0
    X, y = load_digits(return_X_y=True)
    np.save(tmp_path / "X.npy", X / 16.0)
    np.save(tmp_path / "y.npy", y)
    codes = tmp_path / "codes.npy"
    argv = ["encode", str(model), str(tmp_path / "X.npy"), "--out", str(codes),
            "--allow-pickle"]
    assert main(argv) == 0
    c = np.load(codes)
    assert c.dtype == np.uint8 and c.shape == (len(X), 2)
    capsys.readouterr()
    assert main(["search", str(codes), str(codes), "-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(X)
    # Each item is at distance 0 from itself, so the first hit is at 0.
    assert lines[0].split("\t")[1].split()[0].endswith(":0")
    nn = tmp_path / "nn.npz"
    assert main(["search", str(codes), str(codes), "-k", "3", "--out", str(nn)]) == 0
    with np.load(nn) as arrays:
        assert arrays["indices"].shape == (len(X), 3)
    nn = tmp_path / "radius.npz"
    assert main(["search", str(codes), str(codes), "--radius", "0",
                 "--out", str(nn)]) == 0
    with np.load(nn) as arrays:
        offsets, idx = arrays["offsets"], arrays["indices"]
        assert len(offsets) == len(X) + 1 and offsets[-1] == len(idx)
        assert 0 in idx[offsets[0]:offsets[1]]
        assert (arrays["distances"] == 0).all()
    capsys.readouterr()
    y_path = str(tmp_path / "y.npy")
    assert main(["evaluate", str(codes), str(codes), y_path, y_path, "-k", "100"]) == 0
    out = capsys.readouterr().out
    assert "mAP@100\t" in out and "P@r<=2\t" in out and "mAP@all\t" in out


# ----------------------------------------------------------------- errors
# Every class of user error: (argv, part of the one-line message). Paths are
# filled in from the fixtures: {X}, {y} digits files in folder {d}; {codes},
# {empty} code files and {m} an output file in folder {c}.
_FIT = ["fit", "--method", "itq", "--X", "{X}"]
USER_ERRORS = [
    (["benchmark", "--methods", "nope"], "unknown method 'nope'"),
    (["benchmark", "--dataset", "cifar100"], "needs data_path"),
    (["benchmark", "--dataset", "fashion-mnist", "--data-path", "/nonexistent"],
     "cannot load dataset 'fashion-mnist'"),
    (["benchmark", "--bits", "0"], "expected a positive integer"),
    (["benchmark", "--out", "{X}"], "is a file"),
    (["benchmark", "--out", "{d}"], "not part of a sklhash report"),
    (["benchmark", "--out", "/proc/sklhash-report"], "not writable"),
    (["benchmark", "--threads", "0"], "number of threads"),
    (["benchmark", "--device", "gpu"], "--device 'gpu' is not one of"),
    ([*_FIT, "--out", "/nonexistent/dir/m"], "does not exist"),
    ([*_FIT, "--out", "/proc/m"], "not writable"),
    ([*_FIT, "--out", "{d}"], "is a folder"),
    ([*_FIT, "--out", "/dev/null"], "not a regular file"),
    ([*_FIT, "--seed", "-1", "--out", "{m}"], "expected a seed"),
    ([*_FIT, "--device", "gpu", "--out", "{m}"], "--device 'gpu'"),
    ([*_FIT, "--bits", "100", "--out", "{m}"], "bits=100"),
    ([*_FIT, "--param", "nope=1", "--out", "{m}"], "no parameter 'nope'"),
    ([*_FIT, "--param", "bits=8", "--out", "{m}"], "set bits with --bits"),
    ([*_FIT, "--param", "n_iter", "--out", "{m}"], "NAME=VALUE"),
    ([*_FIT, "--param", "n_iter=-2", "--out", "{m}"], "n_iter"),
    ([*_FIT, "--hierarchy", "nope.json", "--out", "{m}"],
     "neither a shipped hierarchy"),
    ([*_FIT, "--hierarchy", "fashion-mnist", "--out", "{m}"], "takes no hierarchy"),
    ([*_FIT, "--dataset", "digits", "--out", "{m}"], "not both"),
    (["fit", "--method", "dpsh", "--X", "{X}", "--out", "{m}"], "give --y"),
    (["fit", "--method", "itq", "--y", "{y}", "--out", "{m}"], "--y needs --X"),
    (["fit", "--method", "itq", "--X", "/nonexistent.npy", "--out", "{m}"],
     "does not exist"),
    (["fit", "--method", "nope", "--out", "{m}"], "unknown method"),
    (["encode", "/nonexistent.joblib", "{X}", "--out", "{m}"], "does not exist"),
    (["search", "/nonexistent.npy", "/nonexistent.npy"], "does not exist"),
    (["search", "{empty}", "{codes}"], "holds no codes"),
    (["search", "{codes}", "{codes}", "-k", "301"], "larger than the database"),
    (["search", "{codes}", "{codes}", "--out", "{d}"], "is a folder"),
    (["evaluate", "{empty}", "{codes}", "{y}", "{y}"], "holds no codes"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
]


@pytest.mark.parametrize(
    "argv, message", USER_ERRORS, ids=[" ".join(a[:3]) for a, _ in USER_ERRORS]
)
def test_user_errors_one_line_exit_2(argv, message, digits_files, codes_file,
                                     capsys):
    paths = {
        "X": digits_files / "X.npy", "y": digits_files / "y.npy",
        "d": digits_files, "codes": codes_file / "codes.npy",
        "empty": codes_file / "empty.npy", "c": codes_file, "m": codes_file / "m",
    }
    argv = [a.format(**{k: str(v) for k, v in paths.items()}) for a in argv]
    before = sorted(os.listdir(codes_file))
    assert main(argv) == 2, argv
    err = _one_error_line(capsys)
    assert message in err, (argv, err)
    assert sorted(os.listdir(codes_file)) == before


@pytest.mark.parametrize("spec", HASHERS, ids=lambda s: s.method)
def test_every_method_checks_its_parameters(spec, digits_files, tmp_path, capsys):
    """Every method of the hasher table: an unknown --param, and a
    --hierarchy where the class takes none, are one-line errors before any
    training."""
    base = ["fit", "--method", spec.method, "--X", str(digits_files / "X.npy"),
            "--y", str(digits_files / "y.npy"), "--out", str(tmp_path / "m")]
    assert main([*base, "--param", "no_such_parameter=1"]) == 2
    assert f"{spec.name} has no parameter 'no_such_parameter'" in _one_error_line(
        capsys
    )
    assert main([*base, "--param", "bits=0"]) == 2
    assert "set bits with --bits" in _one_error_line(capsys)
    if "hierarchy" not in spec.load()(bits=8).get_params():
        assert main([*base, "--hierarchy", "fashion-mnist"]) == 2
        assert "takes no hierarchy" in _one_error_line(capsys)
    assert os.listdir(tmp_path) == []


def test_cuda_without_cuda(digits_files, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = ["fit", "--method", "dpsh", "--device", "cuda", "--X",
            str(digits_files / "X.npy"), "--out", str(tmp_path / "m")]
    assert main(argv) == 2
    assert "CUDA is not available" in _one_error_line(capsys)


def test_without_torch(digits_files, tmp_path, capsys, monkeypatch):
    """torch is left to the user: without it the classic methods work and a
    deep one is refused before any work, naming the install command."""
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails
    X, y = str(digits_files / "X.npy"), str(digits_files / "y.npy")
    argv = ["fit", "--method", "dpsh", "--X", X, "--y", y,
            "--out", str(tmp_path / "m")]
    assert main(argv) == 2
    err = _one_error_line(capsys)
    assert "method 'dpsh' needs torch" in err and "pip install torch" in err
    assert main(["benchmark", "--methods", "lsh", "dpsh", "--out",
                 str(tmp_path / "r")]) == 2
    assert "needs torch" in _one_error_line(capsys)
    assert main(["fit", "--method", "itq", "--X", X, "--threads", "1",
                 "--out", str(tmp_path / "m")]) == 0
    assert sorted(os.listdir(tmp_path)) == ["m"]


def test_without_faiss(codes_file, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    codes = str(codes_file / "codes.npy")
    assert main(["search", codes, codes, "--backend", "faiss"]) == 2
    assert "pip install 'sklhash[faiss]'" in _one_error_line(capsys)


def test_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    assert main(["search", str(bad), str(bad)]) == 2
    assert "not a readable .npy" in _one_error_line(capsys)
    floats = tmp_path / "f.npy"
    np.save(floats, np.zeros((3, 2)))
    assert main(["search", str(floats), str(floats)]) == 2
    assert "uint8" in _one_error_line(capsys)
    junk = tmp_path / "m.joblib"
    junk.write_bytes(b"junk")
    argv = ["encode", str(junk), str(floats), "--out", str(tmp_path / "c.npy")]
    assert main(argv) == 2
    assert "could not be loaded" in _one_error_line(capsys)
    assert main([*argv, "--allow-pickle"]) == 2
    assert "could not be loaded" in capsys.readouterr().err
    many = tmp_path / "many.npz"
    np.savez(many, a=np.zeros((3, 2)), b=np.zeros(3))
    assert main(["fit", "--method", "lsh", "--X", str(many), "--out",
                 str(tmp_path / "m")]) == 2
    assert "holds arrays a, b" in _one_error_line(capsys)
    text = tmp_path / "X.csv"
    text.write_text("a,b\n1,x\n")
    assert main(["fit", "--method", "lsh", "--X", str(text), "--out",
                 str(tmp_path / "m")]) == 2
    assert "not a readable CSV table" in _one_error_line(capsys)
    assert not (tmp_path / "c.npy").exists() and not (tmp_path / "m").exists()


def test_pickle_needs_explicit_flag(digits_files, tmp_path, capsys):
    """A pickle model file is never loaded without --allow-pickle."""
    marker = tmp_path / "marker"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    import joblib

    model = tmp_path / "evil.joblib"
    joblib.dump(Payload(), model)
    argv = ["encode", str(model), str(digits_files / "X.npy"),
            "--out", str(tmp_path / "c.npy")]
    assert main(argv) == 2
    assert "--allow-pickle" in _one_error_line(capsys)
    assert not marker.exists()
    # With the flag, a warning says what it means (and the file does run).
    assert main([*argv, "--allow-pickle"]) == 2
    err = capsys.readouterr().err
    assert "sklhash: warning: loading pickle" in err
    assert "does not hold a hasher" in err


def test_model_file_loads_without_pickle(digits_files, tmp_path, capsys):
    """fit writes sklhash's own format, which encode reads with no flag."""
    pytest.importorskip("sklhash.persistence")
    model = tmp_path / "model"
    X = str(digits_files / "X.npy")
    argv = ["fit", "--method", "itq", "--bits", "16", "--X", X,
            "--preprocess", "minmax", "--out", str(model)]
    assert main(argv) == 0
    assert "(sklhash format)" in capsys.readouterr().out
    assert model.read_bytes()[:1] != b"\x80"
    assert main(["encode", str(model), X, "--out", str(tmp_path / "c.npy")]) == 0
    assert "warning" not in capsys.readouterr().err
    assert np.load(tmp_path / "c.npy").shape == (300, 2)


def test_param_values_are_literals_never_code(digits_files, tmp_path, capsys):
    marker = tmp_path / "marker"
    payload = f"n_iter=__import__('os').system('touch {marker}')"
    argv = ["fit", "--method", "itq", "--X", str(digits_files / "X.npy"),
            "--param", payload, "--out", str(tmp_path / "m")]
    assert main(argv) == 2
    assert "n_iter" in _one_error_line(capsys)
    assert not marker.exists() and not (tmp_path / "m").exists()


@given(
    value=st.one_of(
        st.integers(),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.tuples(st.integers(1, 512), st.integers(1, 512)),
        st.text(alphabet="abcdefghij_", min_size=1).filter(
            lambda s: s not in ("True", "False", "None")
        ),
    )
)
def test_param_parsing_round_trips(value):
    text = value if isinstance(value, str) else repr(value)
    assert _param(f"name={text}") == ("name", value)


def test_write_failure_one_line_nothing_left(digits_files, tmp_path, capsys,
                                             monkeypatch):
    """A full disk while writing the output: one line, no partial file."""

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # Every output is synced before it is renamed into place; the disk
    # fills up at that point.
    monkeypatch.setattr(os, "fsync", full)
    X = str(digits_files / "X.npy")
    for argv in (
        ["fit", "--method", "lsh", "--X", X, "--out", str(tmp_path / "model")],
        ["benchmark", "--methods", "lsh", "--bits", "8", "--no-plot",
         "--out", str(tmp_path / "report")],
    ):
        assert main(argv) == 2
        assert "no space left" in _one_error_line(capsys)
        assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    model = tmp_path / "model"
    assert main(["fit", "--method", "lsh", "--X", X, "--out", str(model)]) == 0
    monkeypatch.setattr(os, "fsync", full)
    argv = ["encode", str(model), X, "--out", str(tmp_path / "c.npy"),
            "--allow-pickle"]
    assert main(argv) == 2
    assert "no space left" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["model"]


def test_help_on_every_option(capsys):
    parser = build_parser()
    subparsers = next(
        a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"
    )
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help, f"sklhash {name} {action.option_strings or action.dest}"
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: sklhash " + name in capsys.readouterr().out


# ---------------------------------------------------------- real signals
def test_search_into_closed_pipe(codes_file):
    """``sklhash search ... | head -1``: no BrokenPipeError traceback."""
    codes = str(codes_file / "codes.npy")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sklhash", "search", codes, codes, "-k", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader stops, as head does
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert first.startswith(b"0\t")
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode in (0, 141)


def test_ctrl_c_during_fit_exits_130_writes_nothing(digits_files, tmp_path):
    """SIGINT after the first epoch: exit 130, no model file."""
    out = tmp_path / "model"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sklhash", "fit", "--method", "dpsh", "--bits", "8",
         "--epochs", "500", "--verbose", "--threads", "1", "--param",
         "batch_size=32", "--X", str(digits_files / "X.npy"),
         "--y", str(digits_files / "y.npy"), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if re.match(r"^\s+1\s", line):  # the first epoch's row of the table
            break
    assert seen, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()
    assert os.listdir(tmp_path) == []


def test_ctrl_c_during_benchmark_keeps_old_report(tmp_path, capsys):
    """SIGINT while the second method trains: exit 130, old set untouched."""
    out = tmp_path / "report"
    assert main(["benchmark", "--methods", "lsh", "--bits", "8", "--no-plot",
                 "--out", str(out)]) == 0
    before = {p: (out / p).read_bytes() for p in os.listdir(out)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sklhash", "benchmark", "--methods", "itq", "dpsh",
         "--bits", "8", "--epochs", "500", "--max-train", "300", "--threads", "1",
         "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    for line in proc.stdout:
        if "1/2" in line:  # itq is done, dpsh is training
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert {p: (out / p).read_bytes() for p in os.listdir(out)} == before
    assert sorted(os.listdir(tmp_path)) == ["report"]
