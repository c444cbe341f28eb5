"""BlockStream: shuffled mini-batches read block by block (no cluster needed)."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sklhash.dask import BlockStream


class CountingArray:
    """An array that records every row range read from it."""

    def __init__(self, data):
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.reads = []

    def __getitem__(self, rows):
        self.reads.append((rows.start, rows.stop))
        return self.data[rows]


def _epoch(stream):
    return list(stream)


@given(
    n=st.integers(1, 80),
    batch_size=st.integers(1, 30),
    block_size=st.integers(1, 40),
    blocks_per_buffer=st.integers(1, 4),
    drop_last=st.booleans(),
)
def test_each_row_once_per_epoch_in_full_batches(
    n, batch_size, block_size, blocks_per_buffer, drop_last
):
    X = np.arange(2 * n, dtype=np.float64).reshape(n, 2)
    y = np.arange(n) * 10
    source = CountingArray(X)
    stream = BlockStream(
        source,
        y,
        batch_size=batch_size,
        block_size=block_size,
        blocks_per_buffer=blocks_per_buffer,
        drop_last=drop_last,
        random_state=0,
    )
    batches = _epoch(stream)
    assert len(batches) == len(stream)
    sizes = [len(b["idx"]) for b in batches]
    assert all(s == batch_size for s in sizes[:-1])
    idx = np.concatenate([b["idx"] for b in batches]) if batches else np.empty(0)
    if drop_last:
        assert len(idx) == n // batch_size * batch_size
        assert len(set(idx.tolist())) == len(idx)
    else:
        assert sorted(idx.tolist()) == list(range(n))
    for b in batches:  # rows, labels and row numbers stay aligned
        assert b["X"].dtype == np.float32
        np.testing.assert_array_equal(b["X"], X[b["idx"]].astype(np.float32))
        np.testing.assert_array_equal(b["y"], y[b["idx"]])
    # One pass: every block read once, never more than block_size rows at once.
    assert sorted(source.reads) == [
        (a, min(a + block_size, n)) for a in range(0, n, block_size)
    ]


def test_epochs_differ_and_random_state_fixes_them():
    X = np.random.default_rng(0).normal(size=(300, 3))
    a = BlockStream(
        X, batch_size=32, block_size=50, blocks_per_buffer=2, random_state=7
    )
    b = BlockStream(
        X, batch_size=32, block_size=50, blocks_per_buffer=2, random_state=7
    )
    first_a, second_a = _epoch(a), _epoch(a)
    first_b = _epoch(b)
    order = [
        np.concatenate([x["idx"] for x in e]) for e in (first_a, second_a, first_b)
    ]
    np.testing.assert_array_equal(order[0], order[2])
    assert not np.array_equal(order[0], order[1])
    # Shuffled across the blocks of a buffer, not only within a block.
    first_batch = first_a[0]["idx"] // 50
    assert len(set(first_batch.tolist())) == 2
    plain = BlockStream(X, batch_size=32, shuffle=False)
    np.testing.assert_array_equal(
        np.concatenate([x["idx"] for x in plain]), np.arange(300)
    )


def test_memmap_and_dask_array_sources(tmp_path):
    X = np.random.default_rng(1).normal(size=(257, 5)).astype(np.float32)
    path = tmp_path / "x.f32"
    X.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    from_mm = _epoch(BlockStream(mm, batch_size=64, block_size=100, random_state=0))
    for batch in from_mm:
        np.testing.assert_array_equal(batch["X"], X[batch["idx"]])
    da = pytest.importorskip("dask.array")
    import dask

    dX = da.from_array(X, chunks=((100, 0, 57, 100), 5))
    stream = BlockStream(dX, da.from_array(np.arange(257), chunks=60), batch_size=50)
    assert stream.n_blocks == 3  # the empty chunk is skipped
    with dask.config.set(scheduler="threads"):
        batches = _epoch(stream)
    assert sorted(np.concatenate([b["idx"] for b in batches]).tolist()) == list(
        range(257)
    )
    for batch in batches:
        np.testing.assert_array_equal(batch["X"], X[batch["idx"]])
        np.testing.assert_array_equal(batch["y"], batch["idx"])


def test_bad_input():
    X = np.zeros((10, 3))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        BlockStream(X, batch_size=0)
    with pytest.raises(ValueError, match="blocks_per_buffer must be an integer"):
        BlockStream(X, blocks_per_buffer=1.5)
    with pytest.raises(ValueError, match="y has 9 rows but X has 10"):
        BlockStream(X, np.zeros(9))
    with pytest.raises(ValueError, match="2-d"):
        BlockStream(np.zeros(10))
    with pytest.raises(ValueError, match="must hold numbers"):
        BlockStream(np.full((4, 2), "a"))
    bad = X.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity in rows 5\.\.9"):
        _epoch(BlockStream(bad, block_size=5, shuffle=False))
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="chunked along axis 1"):
        BlockStream(da.zeros((10, 4), chunks=(5, 2)))
    unknown = da.zeros((10, 4), chunks=(5, 4))
    unknown = unknown[da.from_array(np.arange(10) % 2 == 0, chunks=5)]
    with pytest.raises(ValueError, match="unknown size"):
        BlockStream(unknown)


def test_import_pulls_in_neither_torch_nor_dask():
    code = (
        "import sys, sklhash, sklhash.dask; "
        "print(sorted(m for m in ('torch', 'dask', 'distributed') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_skorch_trains_from_the_stream(tmp_path):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    from torch.utils.data import DataLoader

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4)).astype(np.float32)
    w = np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)
    path = tmp_path / "x.f32"
    X.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)

    class Linear(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 1)

        def forward(self, X, idx, target):
            return self.lin(X)[:, 0]

    class Net(skorch.NeuralNet):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            return torch.mean((y_pred - X["target"]) ** 2)

    stream = BlockStream(mm, batch_size=50, block_size=128, random_state=0)
    torch.manual_seed(0)
    net = Net(
        Linear,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.SGD,
        lr=0.1,
        max_epochs=5,
        train_split=None,
        iterator_train=DataLoader,
        iterator_train__batch_size=None,
        iterator_train__shuffle=False,
        verbose=0,
    )
    net.fit(stream.as_torch_dataset({"target": X @ w}), None)
    losses = net.history[:, "train_loss"]
    assert losses[-1] < 0.01 * losses[0]
    assert net.history[-1, "batches", -1, "train_batch_size"] == 50
    assert len(net.history[-1, "batches"]) == len(stream) == 12
    with pytest.raises(ValueError, match=r"targets\['t'\] has 5 rows"):
        stream.as_torch_dataset({"t": np.zeros(5)})
