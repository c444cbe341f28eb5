"""sklhash.dask.encode and GridSearchCV on a LocalCluster (2 worker processes).

The cluster is bound to 127.0.0.1 and started once for the module; it works
inside a pytest-xdist worker. Worker processes import this module by name
to unpickle the two small test hashers below (pickled by reference).
"""

import os
import pickle
import signal
import time

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklhash import ITQHasher, LSHHasher
from sklhash.metrics import map_scorer

da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

from sklhash.dask import encode  # noqa: E402


class LoggingITQ(ITQHasher):
    """ITQ that appends its process id to a file each time it is unpickled."""

    def __setstate__(self, state):
        with open(state["log_path_"], "a") as f:
            f.write(f"{os.getpid()}\n")
        super().__setstate__(state)


class SlowITQ(ITQHasher):
    """ITQ whose transform takes a while, so a worker can die mid-encode."""

    def transform(self, X):
        time.sleep(0.05)
        return super().transform(X)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=50,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


def _boom(block):
    raise RuntimeError("a task ran")


def _never_computed(shape, chunks):
    """A dask array whose every block raises when computed."""
    base = da.zeros(shape, chunks=chunks, dtype=np.float32)
    return base.map_blocks(_boom, dtype=np.float32)


# -- encode == transform ------------------------------------------------------


@pytest.mark.parametrize(
    "rows, chunks",
    [
        (30, 1),  # one row a block
        (1797, ((100, 0, 700, 0, 997),)),  # empty partitions
        (1797, 256),
        (1797, ((1797,),)),
    ],
    ids=["1-row", "empty-blocks", "uneven", "one-block"],
)
def test_encode_equals_transform(client, digits, rows, chunks):
    X = digits[0][:rows]
    hasher = ITQHasher(bits=20, random_state=0).fit(X)  # 3 bytes, 4 padding bits
    dX = da.from_array(
        X, chunks=(chunks[0] if isinstance(chunks, tuple) else chunks, 64)
    )
    codes = encode(hasher, dX)
    # Declared before anything runs: shape, chunks, dtype, meta.
    assert codes.shape == (rows, 3)
    assert codes.chunks == (dX.chunks[0], (3,))
    assert codes.dtype == np.uint8
    assert type(codes._meta) is np.ndarray
    assert codes._meta.dtype == np.uint8 and codes._meta.ndim == 2
    out = codes.compute()
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, hasher.transform(X))


def test_encode_unknown_chunk_sizes_pipeline_and_threads(client, digits):
    X, y = digits
    pipe = Pipeline(
        [("scale", StandardScaler()), ("hash", LSHHasher(bits=33, random_state=1))]
    ).fit(X)
    dX = da.from_array(X, chunks=(300, 64))
    keep = da.from_array(y % 3 != 0, chunks=300)
    subset = dX[keep]  # boolean mask: row chunks of unknown size
    codes = encode(pipe, subset)
    assert np.isnan(codes.shape[0]) and codes.shape[1] == 5
    np.testing.assert_array_equal(codes.compute(), pipe.transform(X[y % 3 != 0]))
    # No distributed scheduler needed: threads in this process give the same.
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(encode(pipe, dX).compute(), pipe.transform(X))


def test_encode_dask_dataframe(client, digits):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X = digits[0][:500]
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    hasher = ITQHasher(bits=16, random_state=0).fit(frame)
    codes = encode(hasher, dd.from_pandas(frame, npartitions=4))
    assert codes.dtype == np.uint8 and codes.shape[1] == 2
    np.testing.assert_array_equal(codes.compute(), hasher.transform(frame))
    renamed = frame.rename(columns={"px0": "other"})
    with pytest.raises(ValueError, match="fitted on columns"):
        encode(hasher, dd.from_pandas(renamed, npartitions=2))


def test_encode_deep_hasher_with_cuda_device_on_cpu_workers(client, digits):
    pytest.importorskip("torch")
    from sklhash import SemanticKLHasher

    X, y = digits
    est = SemanticKLHasher(
        bits=24, hidden_layer_sizes=(32,), max_epochs=1, random_state=0
    ).fit(X[:300], y[:300])
    expected = est.transform(X)
    # A model trained on a GPU carries device="cuda"; skorch maps it to the
    # CPU when a worker without CUDA unpickles it.
    gpu_labelled = pickle.loads(pickle.dumps(est))
    gpu_labelled.net_.device = "cuda"
    codes = encode(gpu_labelled, da.from_array(X, chunks=(400, 64)))
    np.testing.assert_array_equal(codes.compute(), expected)


# -- the model is shipped once -------------------------------------------------


def test_graph_holds_one_model_key(client, digits):
    X = digits[0]
    hasher = ITQHasher(bits=16, random_state=0).fit(X)
    dX = da.from_array(X, chunks=(50, 64))
    codes = encode(hasher, dX, scatter=False)
    assert codes.numblocks[0] == 36
    graph = dict(codes.__dask_graph__())
    model_keys = [k for k in graph if str(k).startswith("sklhash-model-")]
    assert len(model_keys) == 1
    # Scattered: no copy of the model in the graph, one future shared by all.
    scattered = encode(hasher, dX)
    assert not any(str(k).startswith("sklhash-model-") for k in scattered.dask)
    graph = dict(scattered.__dask_graph__())
    deps = set().union(*(getattr(t, "dependencies", ()) for t in graph.values()))
    outside = deps - set(graph)  # keys the graph needs but does not compute
    assert len(outside) == 1
    (key,) = outside
    assert len(client.who_has()[key]) == 2  # already on both workers
    np.testing.assert_array_equal(scattered.compute(), hasher.transform(X))


def test_model_deserialised_at_most_once_per_worker(client, digits, tmp_path):
    X = digits[0]
    log = tmp_path / "unpickled.txt"
    hasher = LoggingITQ(bits=16, random_state=0).fit(X)
    hasher.log_path_ = str(log)
    codes = encode(hasher, da.from_array(X, chunks=(30, 64)))  # 60 blocks
    np.testing.assert_array_equal(codes.compute(), hasher.transform(X))
    worker_pids = set(client.run(os.getpid).values())
    pids = [int(p) for p in log.read_text().split()]
    # Once on each worker, never in this process (which runs the scheduler).
    assert sorted(pids) == sorted(worker_pids), (pids, worker_pids)


# -- failures -------------------------------------------------------------------


def test_worker_killed_mid_encode_gives_complete_result(client, digits):
    X = digits[0]
    hasher = SlowITQ(bits=16, random_state=0).fit(X)
    codes = encode(hasher, da.from_array(X, chunks=(30, 64)))  # 60 blocks, ~3 s
    futures = client.compute(codes.to_delayed().ravel().tolist())
    deadline = time.monotonic() + 30
    while sum(f.done() for f in futures) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not all(f.done() for f in futures), "encode ended before the kill"
    victim = max(client.run(os.getpid).values())
    os.kill(victim, signal.SIGKILL)
    blocks = client.gather(futures)
    out = np.concatenate(blocks)
    assert out.shape == (X.shape[0], 2)
    np.testing.assert_array_equal(out, hasher.transform(X))
    client.wait_for_workers(2, timeout=60)


# -- bad input, refused before any task runs ---------------------------------------


def test_bad_input_raises_before_any_task(digits):
    X = digits[0]
    hasher = ITQHasher(bits=16, random_state=0).fit(X)
    good = _never_computed((100, 64), (50, 64))
    with pytest.raises(NotFittedError):
        encode(ITQHasher(bits=16), good)
    assert issubclass(NotFittedError, ValueError)
    with pytest.raises(ValueError, match="X has 10 features, but ITQHasher"):
        encode(hasher, _never_computed((100, 10), (50, 10)))
    with pytest.raises(ValueError, match="chunked along axis 1"):
        encode(hasher, _never_computed((100, 64), (50, 32)))
    with pytest.raises(ValueError, match="must be a dask array"):
        encode(hasher, X)
    with pytest.raises(ValueError, match="last step PCA has no n_bits_"):
        encode(Pipeline([("pca", PCA(4))]).fit(X), good)
    with pytest.raises(ValueError, match="no transform method"):
        encode(object(), good)
    with pytest.raises(ValueError, match="scatter must be"):
        encode(hasher, good, scatter="yes")
    with dask.config.set(scheduler="threads"):  # no distributed scheduler
        with pytest.raises(ValueError, match="scatter=True needs an active"):
            encode(hasher, good, scatter=True)
    with pytest.raises(ValueError, match="must hold numbers"):
        encode(hasher, da.from_array(np.full((4, 64), "a"), chunks=(2, 64)))
    # The refusals happened before the graph ran: computing it raises.
    with pytest.raises(RuntimeError, match="a task ran"):
        good.compute(scheduler="sync")


def test_transform_returning_wrong_shape_is_reported(digits):
    class Bad(ITQHasher):
        def transform(self, X):
            return super().transform(X)[:, :1]

    X = digits[0]
    bad = Bad(bits=16, random_state=0).fit(X)
    codes = encode(bad, da.from_array(X, chunks=500), scatter=False)
    with pytest.raises(ValueError, match=r"returned an array of shape \(\d+, 1\)"):
        codes.compute(scheduler="sync")


# -- tuning ------------------------------------------------------------------------


def test_grid_search_under_dask_backend_matches(client, digits):
    joblib = pytest.importorskip("joblib")
    X, y = digits[0][:900], digits[1][:900]
    pipe = Pipeline([("scale", StandardScaler()), ("hash", ITQHasher(random_state=0))])
    grid = {"hash__bits": [8, 16, 32], "scale__with_std": [True, False]}

    def search():
        # n_jobs=None: sequential here, all of the cluster under the dask backend.
        return GridSearchCV(pipe, grid, scoring=map_scorer(k=50), cv=StratifiedKFold(3))

    local = search().fit(X, y)
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_backend("dask"):
            remote = search().fit(X, y)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    # The fits and scores really ran on the cluster's workers.
    assert len(stream.data) >= 1


def test_dask_config_threads_without_client(digits):
    X = digits[0][:200]
    hasher = LSHHasher(bits=12, random_state=0).fit(X)
    with dask.config.set(scheduler="threads"):
        out = encode(hasher, da.from_array(X, chunks=(33, 64))).compute()
    np.testing.assert_array_equal(out, hasher.transform(X))
