"""sklhash.persistence: safe model files.

Round trips through a fresh process for every hasher, the index and a
Pipeline; hostile files (classes outside the allow-list, pickle payloads);
damaged files (truncated, bit-flipped, another format version, a forged
header); bad input to save and load.
"""

import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import tracemalloc

import numpy as np
import pytest
import sklearn
from _hashers import instances
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    RobustScaler,
    StandardScaler,
)

from sklhash import ITQHasher, LSHHasher
from sklhash.neighbors import HammingIndex, HashingNearestNeighbors
from sklhash.persistence import (
    FORMAT_VERSION,
    ModelFileError,
    _container,
    load,
    save,
    supported_classes,
)

# Every parameter set of every hasher in sklhash's table (hierarchy=,
# quantization="householder", backbone="cnn", code_source="head", ...).
MODELS = [(f"{type(est).__name__}-{i}", est) for i, est in enumerate(instances())]
OTHERS = ["Pipeline", "HammingIndex", "HashingNearestNeighbors"]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    # four classes: the table's toy hierarchy covers labels 0..3
    return (X[:120] / 16).astype(np.float32), y[:120] % 4


def _pipeline(X):
    return make_pipeline(
        StandardScaler(),
        PCA(n_components=16, random_state=0),
        ITQHasher(bits=12, random_state=0),
    ).fit(X)


def _fit(est, X, y):
    if getattr(est, "backbone", None) == "cnn":
        X = X.reshape(-1, 1, 8, 8)
    if est.__sklearn_tags__().target_tags.required:
        return est.fit(X, y), X
    return est.fit(X), X


_LOAD_IN_FRESH_PROCESS = """
import sys, numpy as np
from sklhash.persistence import load
for path in sys.argv[1:]:
    X = np.load(path + ".in.npy")
    try:
        est = load(path)
        search = hasattr(est, "kneighbors")
        out = est.kneighbors(X, 5)[1] if search else est.transform(X)
    except Exception as exc:  # reported by the model's own test
        open(path + ".error.txt", "w").write(f"{type(exc).__name__}: {exc}")
    else:
        np.save(path + ".out.npy", out)
"""


@pytest.fixture(scope="module")
def fresh_process_outputs(digits, tmp_path_factory):
    """Every model saved here, then loaded and applied in one new interpreter."""
    X, y = digits
    folder = tmp_path_factory.mktemp("models")
    fitted = {name: _fit(clone(est), X, y) for name, est in MODELS}
    pipe = _pipeline(X)
    fitted["Pipeline"] = (pipe, X)
    codes = pipe.transform(X)
    fitted["HammingIndex"] = (HammingIndex(n_bits=12).fit(codes), codes[:20])
    fitted["HashingNearestNeighbors"] = (
        HashingNearestNeighbors(LSHHasher(bits=16, random_state=0)).fit(X),
        X[:20],
    )
    expected = {}
    for name, (est, data) in fitted.items():
        path = str(folder / f"{name}.skhash")
        save(est, path)
        np.save(path + ".in.npy", data)
        expected[name] = (
            est.kneighbors(data, 5)[1]
            if hasattr(est, "kneighbors")
            else est.transform(data)
        )
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            _LOAD_IN_FRESH_PROCESS,
            *(str(folder / f"{name}.skhash") for name in fitted),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert res.returncode == 0, res.stderr
    return {name: (expected[name], folder / f"{name}.skhash") for name in fitted}


@pytest.mark.parametrize("name", [name for name, _ in MODELS] + OTHERS)
def test_round_trip_in_a_fresh_process_gives_identical_output(
    name, fresh_process_outputs
):
    expected, path = fresh_process_outputs[name]
    error = path.with_name(path.name + ".error.txt")
    assert not error.exists(), error.read_text()
    loaded = np.load(path.with_name(path.name + ".out.npy"))
    assert loaded.dtype == expected.dtype and loaded.shape == expected.shape
    np.testing.assert_array_equal(loaded, expected)


@pytest.mark.parametrize(
    "step",
    [
        StandardScaler(),
        MinMaxScaler(),
        MaxAbsScaler(),
        RobustScaler(),
        Normalizer(),
        PCA(n_components=10, whiten=True, random_state=0),
        TruncatedSVD(n_components=10, random_state=0),
    ],
    ids=lambda s: type(s).__name__,
)
def test_every_supported_sklearn_step_round_trips(step, digits, tmp_path):
    X, _ = digits
    pipe = make_pipeline(step, ITQHasher(bits=8, random_state=0)).fit(X)
    save(pipe, tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert type(loaded[0]) is type(step)
    assert loaded.get_params()[loaded.steps[0][0]].get_params() == step.get_params()
    np.testing.assert_array_equal(loaded[0].transform(X), pipe[0].transform(X))
    np.testing.assert_array_equal(loaded.transform(X), pipe.transform(X))
    assert (
        f"sklearn.{type(step).__module__.split('.')[1]}.{type(step).__name__}"
        in supported_classes()
    )


def test_loaded_estimator_keeps_parameters_and_fitted_types(digits, tmp_path):
    X, _ = digits
    est = ITQHasher(bits=6, n_iter=7, random_state=3).fit(X)
    save(est, tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert loaded.get_params() == est.get_params()
    for attr in ("mean_", "components_", "rotation_", "quantization_errors_"):
        got, want = getattr(loaded, attr), getattr(est, attr)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert type(loaded.n_bits_) is int and loaded.n_bits_ == 6


@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text()
        | st.floats(allow_nan=True, allow_infinity=True),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.tuples(inner, inner)
            | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_codec_round_trips_plain_values_exactly(value):
    from sklhash.persistence._codec import Decoder, Encoder

    encoder = Encoder()
    doc = json.loads(json.dumps(encoder.value(value, "v")))
    back = Decoder(encoder.arrays, "p").value(doc, "v")
    # repr tells 1 from 1.0 and True, tuples from lists, and NaN == NaN.
    assert repr(back) == repr(value)


@pytest.mark.parametrize(
    "value",
    [
        np.float32(0.1),
        np.int16(-3),
        np.bool_(True),
        np.dtype("float32"),
        np.float64,
        np.arange(6, dtype=">i4").reshape(2, 3),
        np.array(["a", "bc"], dtype=object),
        np.array(["x", "yz"]),
        np.zeros((0, 4), dtype=np.float16),
        np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        np.array(7, dtype=np.int64),  # 0-d, like BatchNorm's num_batches_tracked
        np.arange(60.0).reshape(6, 10).T[:4],  # a transposed slice
    ],
    ids=repr,
)
def test_codec_keeps_numpy_types(value):
    from sklhash.persistence._codec import Decoder, Encoder

    encoder = Encoder()
    doc = json.loads(json.dumps(encoder.value(value, "v")))
    # through a real file: the container stores little-endian C-order bytes
    path = os.path.join(tempfile.mkdtemp(), "v")
    _container.write(path, "sklhash-model", {"doc": doc}, encoder.arrays)
    document, arrays = _container.read(path, "sklhash-model")
    back = Decoder(arrays, path).value(document["doc"], "v")
    if isinstance(value, np.ndarray):
        assert back.dtype.kind == value.dtype.kind and back.shape == value.shape
        assert back.dtype.itemsize == value.dtype.itemsize
        np.testing.assert_array_equal(back, value)
        # memory order decides BLAS's summation order: column-major stays so
        column_major = value.ndim == 2 and value.strides[0] < value.strides[1]
        assert (back.ndim == 2 and back.strides[0] < back.strides[1]) == column_major
    else:
        assert type(back) is type(value) and back == value


# ------------------------------------------------------------ hostile files
def _forge(path, estimator_doc, arrays=None):
    """A file that is valid in every respect except what it asks to load."""
    versions = {"scikit-learn": sklearn.__version__}
    _container.write(
        path,
        "sklhash-model",
        {"versions": versions, "estimator": estimator_doc},
        arrays or {},
    )


def _estimator_doc(cls_name, params=None):
    return {
        "kind": "estimator",
        "class": cls_name,
        "params": params or {},
        "fitted": {},
    }


@pytest.mark.parametrize(
    "name",
    [
        "os.system",
        "builtins.eval",
        "posix.system",
        "subprocess.Popen",
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.preprocessing.FunctionTransformer",
        "sklhash.pack_codes",
        "sklhash.__class__",
        "sklhash.persistence.load",
        "this.Zen",
        ["os", "system"],
    ],
    ids=str,
)
def test_a_class_outside_the_allow_list_is_refused_by_name(name, tmp_path):
    path = tmp_path / "evil.skhash"
    _forge(path, _estimator_doc(name))
    with pytest.raises(ValueError, match="not one sklhash loads") as info:
        load(path)
    assert repr(name) in str(info.value) and str(path) in str(info.value)


def test_a_pipeline_step_outside_the_allow_list_is_refused(tmp_path):
    evil = _estimator_doc("builtins.eval", {"source": "print(1)"})
    doc = _estimator_doc(
        "sklearn.pipeline.Pipeline",
        {"steps": [{"kind": "tuple", "items": ["s", evil]}]},
    )
    _forge(tmp_path / "m", doc)
    with pytest.raises(ValueError, match="'builtins.eval'"):
        load(tmp_path / "m")


_NAMES_NOT_IMPORTED = """
import sys
from sklhash.persistence import load
for path in sys.argv[1:]:
    try:
        print("loaded:", type(load(path)).__name__)
    except ValueError as exc:
        print("refused:", exc)
assert "this" not in sys.modules and "antigravity" not in sys.modules
assert "sklearn.ensemble" not in sys.modules
# a classic model loads without torch (the deep hashers' dependency)
assert "torch" not in sys.modules and "skorch" not in sys.modules
"""


def test_loading_imports_nothing_the_file_names(tmp_path):
    paths = []
    for i, name in enumerate(
        ["this.Zen", "antigravity.fly", "sklearn.ensemble.RandomForestClassifier"]
    ):
        paths.append(str(tmp_path / f"m{i}"))
        _forge(paths[-1], _estimator_doc(name))
    paths.append(str(tmp_path / "itq"))
    X = np.random.default_rng(0).normal(size=(30, 5))
    save(make_pipeline(StandardScaler(), ITQHasher(bits=3)).fit(X), paths[-1])
    res = subprocess.run(
        [sys.executable, "-c", _NAMES_NOT_IMPORTED, *paths],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    # ``import this`` would print the Zen of Python.
    lines = res.stdout.splitlines()
    assert all(line.startswith("refused:") for line in lines[:3])
    assert lines[3:] == ["loaded: Pipeline"]


class _WritesMarker:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def test_pickle_payloads_are_never_unpickled(tmp_path):
    marker = tmp_path / "marker"
    payload = pickle.dumps(_WritesMarker(marker))
    # the payload as the whole file, as an array of a valid file, inside the
    # JSON document, and as a parameter value
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(payload)
    as_array = tmp_path / "array.skhash"
    doc = _estimator_doc("sklhash.LSHHasher")
    doc["fitted"] = {
        "components_": {"kind": "array", "key": "p"},
        "mean_": {"kind": "pickle", "data": payload.hex()},
    }
    _forge(as_array, doc, {"p": np.frombuffer(payload, dtype=np.uint8)})
    as_param = tmp_path / "param.skhash"
    _forge(
        as_param,
        _estimator_doc("sklhash.LSHHasher", {"bits": payload.decode("latin-1")}),
    )
    for path, match in [
        (raw, "not a sklhash model file"),
        (as_array, "unknown value kind 'pickle'"),
        (as_param, "invalid parameters for LSHHasher"),
    ]:
        with pytest.raises(ValueError, match=match):
            load(path)
    assert not marker.exists()
    # the control: unpickling the payload does write the marker
    pickle.loads(payload)
    assert marker.exists()


def test_a_file_holding_an_unfitted_estimator_is_refused(tmp_path):
    _forge(tmp_path / "m", _estimator_doc("sklhash.ITQHasher", {"bits": 4}))
    with pytest.raises(ValueError, match="holds an unfitted estimator"):
        load(tmp_path / "m")


@pytest.mark.parametrize("attr", ["__class__", "__dict__", "_cache", "mean"])
def test_only_fitted_attribute_names_can_be_set(attr, tmp_path):
    doc = _estimator_doc("sklhash.LSHHasher")
    doc["fitted"] = {attr: 1}
    _forge(tmp_path / "m", doc)
    with pytest.raises(ValueError, match="not a fitted-attribute name"):
        load(tmp_path / "m")


# ------------------------------------------------------------ damaged files
@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    X = np.random.default_rng(0).normal(size=(20, 6))
    path = tmp_path_factory.mktemp("small") / "lsh.skhash"
    save(LSHHasher(bits=3, random_state=0).fit(X), path)
    return path.read_bytes()


def test_every_single_bit_flip_is_detected(small_model, tmp_path):
    # Every bit of the file: header length, JSON header, document, checksums
    # and arrays. The file is patched in place (reopening it 8000 times
    # would dominate the run time).
    path = tmp_path / "flipped.skhash"
    path.write_bytes(small_model)
    undetected = []
    with open(path, "r+b", buffering=0) as fh:
        for position in range(len(small_model)):
            for bit in range(8):
                fh.seek(position)
                fh.write(bytes([small_model[position] ^ (1 << bit)]))
                try:
                    load(path)
                except ValueError as exc:
                    assert str(path) in str(exc)
                else:
                    undetected.append((position, bit))
            fh.seek(position)
            fh.write(small_model[position : position + 1])
    assert undetected == []
    assert path.read_bytes() == small_model
    load(path)  # the restored file loads again


@pytest.mark.parametrize("keep", [0, 3, 8, 20, -200, -9, -1])
def test_truncated_file_is_refused_naming_it(keep, small_model, tmp_path):
    path = tmp_path / "cut.skhash"
    path.write_bytes(small_model[:keep])
    with pytest.raises(ModelFileError, match="truncated|too short|corrupt") as info:
        load(path)
    assert str(path) in str(info.value)


def test_another_format_version_is_refused_naming_both(small_model, tmp_path):
    key = b'"format_version":"%d"' % FORMAT_VERSION
    assert small_model.count(key) == 1
    path = tmp_path / "v2.skhash"
    path.write_bytes(small_model.replace(key, b'"format_version":"7"'))
    with pytest.raises(ModelFileError) as info:
        load(path)
    message = str(info.value)
    assert (
        "format version 7" in message and f"format version {FORMAT_VERSION}" in message
    )
    assert str(path) in message


def _header_file(path, header, data=b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


@pytest.mark.parametrize(
    "shape", [[2**40, 2**20], [2**62], [10**6, 10**6, 10**6], [3, -1]], ids=str
)
def test_a_forged_header_claiming_huge_arrays_allocates_nothing(shape, tmp_path):
    document = json.dumps({"arrays": {"a0": "0" * 64}, "estimator": {}})
    header = {
        "__metadata__": {
            "format": "sklhash-model",
            "format_version": str(FORMAT_VERSION),
            "document": document,
            "document_sha256": _container._sha256(document.encode()),
        },
        "a0": {
            "dtype": "F64",
            "shape": shape,
            "data_offsets": [0, 8 * int(np.prod(np.array(shape, dtype=object)))],
        },
    }
    path = tmp_path / "huge.skhash"
    _header_file(path, header, b"\0" * 64)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="corrupt") as info:
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    assert str(path) in str(info.value)


def test_a_forged_header_length_is_refused(tmp_path):
    path = tmp_path / "len.skhash"
    path.write_bytes(struct.pack("<Q", 2**63) + b"{}")
    with pytest.raises(ModelFileError, match="announce a header of"):
        load(path)


def test_a_plain_safetensors_file_is_not_a_model(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.ones(3, dtype=np.float32)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(ModelFileError, match="without sklhash's metadata"):
        load(tmp_path / "w.safetensors")


def test_a_checkpoint_is_not_a_model(small_model, tmp_path):
    path = tmp_path / "c"
    path.write_bytes(small_model.replace(b'"sklhash-model"', b'"sklhash-checkpoint"'))
    with pytest.raises(ModelFileError, match="not a sklhash model file"):
        load(path)


# ---------------------------------------------------------------- bad input
def test_unknown_path_and_folder_are_refused_naming_them(tmp_path):
    with pytest.raises(ValueError, match="no such sklhash model file") as info:
        load(tmp_path / "missing.skhash")
    assert "missing.skhash" in str(info.value)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="is a folder, not a sklhash model file"):
        load(tmp_path / "folder")


def test_is_model_file_tells_models_from_other_files(small_model, tmp_path):
    from sklhash.persistence import is_model_file

    (tmp_path / "m").write_bytes(small_model)
    (tmp_path / "p").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "c").write_bytes(
        small_model.replace(b'"sklhash-model"', b'"sklhash-checkpoint"')
    )
    assert is_model_file(tmp_path / "m")
    for other in ["p", "c", "missing"]:
        assert not is_model_file(tmp_path / other)
    assert not is_model_file(tmp_path)


def test_a_json_file_is_not_a_model(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"class": "os.system"}))
    with pytest.raises(ModelFileError, match="not a sklhash model file"):
        load(path)


@pytest.mark.parametrize(
    "est",
    [
        ITQHasher(bits=4),
        HammingIndex(),
        make_pipeline(StandardScaler(), ITQHasher(bits=4)),
    ],
    ids=lambda e: type(e).__name__,
)
def test_unfitted_estimator_is_refused_at_save(est, tmp_path):
    with pytest.raises(
        NotFittedError, match="not fitted: call fit before sklhash.save"
    ):
        save(est, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_unsupported_pipeline_step_is_named(digits, tmp_path):
    X, _ = digits
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("abs", FunctionTransformer(np.abs)),
            ("hash", ITQHasher(bits=4)),
        ]
    ).fit(X)
    with pytest.raises(
        TypeError,
        match="step 'abs' of the Pipeline is a .*"
        "FunctionTransformer, which sklhash.save does",
    ):
        save(pipe, tmp_path / "m")
    assert os.listdir(tmp_path) == []


def test_an_unsupported_estimator_is_named(tmp_path):
    from sklearn.ensemble import IsolationForest

    est = IsolationForest(n_estimators=2).fit(np.zeros((5, 2)))
    with pytest.raises(TypeError, match="IsolationForest, which sklhash.save does"):
        save(est, tmp_path / "m")


def test_a_failed_save_keeps_the_previous_file(digits, tmp_path, monkeypatch):
    X, _ = digits
    path = tmp_path / "m"
    save(ITQHasher(bits=4, random_state=0).fit(X), path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        save(ITQHasher(bits=8, random_state=0).fit(X), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m"]


# ------------------------------------------------- object parameters, devices
def _small_deep(**params):
    from sklhash import DPSHHasher

    return DPSHHasher(
        bits=6, hidden_layer_sizes=(8,), max_epochs=1, random_state=0, **params
    )


def _custom_backbone():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.ReLU())


def _early_stopping():
    from skorch.callbacks import EarlyStopping

    return [EarlyStopping(monitor="train_loss", patience=3)]


@pytest.mark.parametrize(
    "param, make, what",
    [
        ("backbone", _custom_backbone, "torch.nn.modules.container.Sequential"),
        ("callbacks", _early_stopping, "EarlyStopping"),
    ],
)
def test_unstorable_parameters_are_refused_naming_them(
    param, make, what, digits, tmp_path
):
    X, y = digits
    est = _small_deep(**{param: make()}).fit(X, y)
    with pytest.raises(TypeError, match=f"parameter '{param}' of DPSHHasher") as info:
        save(est, tmp_path / "m")
    assert what in str(info.value)
    assert os.listdir(tmp_path) == []


def test_a_callable_similarity_is_refused_naming_it(digits, tmp_path):
    from sklhash import SemanticKLHasher

    def same_class(a, b):
        return (np.asarray(a)[:, None] == np.asarray(b)[None, :]).astype(float)

    est = SemanticKLHasher(bits=4, hidden_layer_sizes=(8,), max_epochs=1)
    est.set_params(similarity=same_class)
    est.n_features_in_ = 64  # the refusal comes before any fitted state is read
    with pytest.raises(
        TypeError, match=r"parameter 'similarity' of SemanticKLHasher is a callable"
    ):
        save(est, tmp_path / "m")


def test_a_gpu_trained_file_loads_on_the_cpu(digits, tmp_path):
    # What a CUDA-trained file holds differs from a CPU one only in device_
    # (weights are moved to the CPU before writing): rewrite that attribute
    # and load here, where there is no GPU.
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("checks the CPU-only fallback")
    X, y = digits
    est = _small_deep().fit(X, y)
    save(est, tmp_path / "cpu")
    document, arrays = _container.read(tmp_path / "cpu", "sklhash-model")
    fitted = document["estimator"]["fitted"]
    assert fitted["device_"] == "cpu"
    fitted["device_"] = "cuda:0"
    del document["arrays"]
    _container.write(tmp_path / "gpu", "sklhash-model", document, arrays)
    with pytest.warns(UserWarning, match="trained on 'cuda:0'.*loaded on the CPU"):
        loaded = load(tmp_path / "gpu")
    assert loaded.device_ == "cpu" and str(loaded.net_.device) == "cpu"
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


_ENCODE_WITHOUT_GPU = """
import sys, numpy as np, torch
assert not torch.cuda.is_available()
from sklhash.persistence import load
est = load(sys.argv[1])
np.save(sys.argv[1] + ".out.npy", est.transform(np.load(sys.argv[1] + ".in.npy")))
print(est.device_)
"""


def test_cuda_trained_model_encodes_in_a_process_without_gpu(digits, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    X, y = digits
    est = _small_deep(device="cuda").fit(X, y)
    path = str(tmp_path / "m")
    save(est, path)
    np.save(path + ".in.npy", X)
    res = subprocess.run(
        [sys.executable, "-c", _ENCODE_WITHOUT_GPU, path],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[-1] == "cpu"
    codes, cpu_codes = est.transform(X), np.load(path + ".out.npy")
    # GPU and CPU kernels round differently: a bit may differ only where the
    # continuous output is within float noise of 0 (as in tests/test_cuda.py).
    scores = est.decision_function(X)
    differ = np.unpackbits(codes ^ cpu_codes, axis=1)[:, : scores.shape[1]] != 0
    assert np.all(np.abs(scores[differ]) < 1e-3)


@given(
    edits=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4
    ),
    cut=st.none() | st.integers(0, 10**6),
)
def test_any_corruption_is_a_value_error_naming_the_file(edits, cut, tmp_path_factory):
    # Random byte edits and truncations: whatever they hit, load fails with a
    # ValueError naming the file (never another exception, never a wrong model).
    X = np.random.default_rng(0).normal(size=(20, 6))
    original = _small_model_bytes(X)
    data = bytearray(original)
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    if bytes(data) == original:
        return
    path = tmp_path_factory.mktemp("fuzz") / "m.skhash"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError) as info:
        load(path)
    assert str(path) in str(info.value)


_SMALL = {}


def _small_model_bytes(X):
    if "bytes" not in _SMALL:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "m")
            save(ITQHasher(bits=3, random_state=0).fit(X), path)
            _SMALL["bytes"] = open(path, "rb").read()
    return _SMALL["bytes"]


def _raw_model_file(path, document_text, extra_header=""):
    """A model file written by hand (json.dumps cannot write deep nesting)."""
    digest = _container._sha256(document_text.encode())
    metadata = json.dumps(
        {
            "format": "sklhash-model",
            "format_version": str(FORMAT_VERSION),
            "document": document_text,
            "document_sha256": digest,
        }
    )
    header = ('{"__metadata__": ' + metadata + extra_header + "}").encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)


@pytest.mark.parametrize("depth", [50, 400, 5_000, 200_000])
def test_deeply_nested_json_is_refused(depth, tmp_path):
    nested = "[" * depth + "]" * depth
    document = (
        '{"arrays": {}, "versions": {"scikit-learn": "%s"}, "estimator": '
        '{"kind": "estimator", "class": "sklhash.LSHHasher", "params": '
        '{"bits": %s}, "fitted": {}}}' % (sklearn.__version__, nested)
    )
    _raw_model_file(tmp_path / "doc", document)
    with pytest.raises(ValueError, match="doc"):
        load(tmp_path / "doc")
    _raw_model_file(tmp_path / "header", "{}", ', "x": ' + nested)
    with pytest.raises(ValueError, match="header"):
        load(tmp_path / "header")


def test_similarity_objects_are_stored_by_their_data(digits, tmp_path):
    from sklhash import SemanticKLHasher
    from sklhash.similarity import EmbeddingSimilarity, LabelHierarchy

    X, y = digits
    rng = np.random.default_rng(0)
    hierarchy = LabelHierarchy.from_parent_map(
        {0: "low", 1: "low", 2: "high", 3: "high", "low": "root", "high": "root"}
    )
    class_level = EmbeddingSimilarity(rng.normal(size=(4, 5)), labels=[0, 1, 2, 3])
    sample_level = EmbeddingSimilarity(rng.normal(size=(len(X), 5)))
    small = dict(bits=4, hidden_layer_sizes=(8,), max_epochs=1, random_state=0)
    for name, params, target in [
        ("hierarchy", {"hierarchy": hierarchy}, y),
        ("class", {"similarity": class_level}, y),
        ("sample", {"similarity": sample_level}, np.arange(len(X))),
    ]:
        est = SemanticKLHasher(**small, **params).fit(X, target)
        save(est, tmp_path / name)
        loaded = load(tmp_path / name)
        np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
        ((key, value),) = params.items()
        stored = getattr(loaded, key)
        assert type(stored) is type(value) and stored is not value
        if key == "hierarchy":
            assert stored.to_dict() == value.to_dict()
        else:
            np.testing.assert_array_equal(stored.vectors_, value.vectors_)
            assert getattr(stored, "classes", None) == getattr(value, "classes", None)
        # the loaded estimator refits like the original
        np.testing.assert_array_equal(
            clone(loaded).fit(X, target).transform(X), est.transform(X)
        )


def test_feature_names_and_set_output_survive(digits, tmp_path):
    pd = pytest.importorskip("pandas")
    X, _ = digits
    frame = pd.DataFrame(X[:, :10], columns=[f"px{i}" for i in range(10)])
    pipe = make_pipeline(
        StandardScaler().set_output(transform="pandas"), ITQHasher(bits=4)
    ).fit(frame)
    save(pipe, tmp_path / "m")
    loaded = load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.feature_names_in_, pipe.feature_names_in_)
    scaled = loaded[0].transform(frame)
    assert isinstance(scaled, pd.DataFrame) and list(scaled.columns) == list(frame)
    np.testing.assert_array_equal(loaded.transform(frame), pipe.transform(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.transform(frame.rename(columns={"px0": "other"}))


_KILLED_WHILE_SAVING = """
import os, signal, sys
import numpy as np
from sklhash import ITQHasher
from sklhash.persistence import save

X = np.random.default_rng(0).normal(size=(40, 8))
old = ITQHasher(bits=4, random_state=0).fit(X)
save(old, sys.argv[1])
np.save(sys.argv[1] + ".codes.npy", old.transform(X))

def die(*args, **kwargs):  # the power fails just before the rename
    os.kill(os.getpid(), signal.SIGKILL)

os.replace = die
save(ITQHasher(bits=8, random_state=1).fit(X), sys.argv[1])
"""


def test_a_process_killed_while_saving_leaves_the_previous_file(tmp_path):
    path = tmp_path / "m.skhash"
    res = subprocess.run(
        [sys.executable, "-c", _KILLED_WHILE_SAVING, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == -signal.SIGKILL, res.stderr
    X = np.random.default_rng(0).normal(size=(40, 8))
    loaded = load(path)
    assert loaded.bits == 4
    np.testing.assert_array_equal(
        loaded.transform(X), np.load(str(path) + ".codes.npy")
    )
    # the new bytes were complete in the temporary file, never in place
    leftovers = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".m.skhash.")


def test_parameters_forged_to_describe_a_huge_network_build_nothing(
    digits, tmp_path, monkeypatch
):
    X, y = digits
    save(_small_deep().fit(X, y), tmp_path / "m")
    document, arrays = _container.read(tmp_path / "m", "sklhash-model")
    params = document["estimator"]["params"]
    params["hidden_layer_sizes"] = {"kind": "tuple", "items": [10**6, 10**6]}
    del document["arrays"]
    _container.write(tmp_path / "huge", "sklhash-model", document, arrays)

    def never(*args, **kwargs):
        raise AssertionError("the network was built")

    # the real (allocating) build must not even start
    monkeypatch.setattr(type(_small_deep()), "_rebuild_net", never)
    with pytest.raises(ValueError, match=r"describe a network of 1000\d+ weights"):
        load(tmp_path / "huge")
