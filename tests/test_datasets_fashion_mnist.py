"""load_fashion_mnist / read_idx: tiny idx files written here, and the real
Debian files (package dataset-fashion-mnist, installed in CI)."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from _fileprobes import fifo
from hypothesis import given
from hypothesis import strategies as st

from sklhash.datasets import _fashion_mnist, load_fashion_mnist, read_idx

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
TYPE_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def idx_bytes(array, type_code=None):
    """The idx encoding of ``array``: magic, big-endian dims, big-endian values."""
    array = np.asarray(array)
    if type_code is None:
        type_code = TYPE_CODES[array.dtype.type]
    header = bytes([0, 0, type_code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, gz=True, raw=None):
    raw = idx_bytes(array) if raw is None else raw
    path = Path(str(path) + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def write_split(folder, split, images, labels, gz=True):
    stem = "train" if split == "train" else "t10k"
    write_idx(folder / f"{stem}-images-idx3-ubyte", images, gz)
    write_idx(folder / f"{stem}-labels-idx1-ubyte", labels, gz)


@pytest.fixture
def tiny(tmp_path, rng):
    """A Fashion-MNIST folder with 7 training and 3 test images."""
    split = {
        "train": (
            rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
            np.array([0, 9, 3, 3, 1, 5, 8], dtype=np.uint8),
        ),
        "test": (
            rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
            np.array([2, 7, 4], dtype=np.uint8),
        ),
    }
    for name, (images, labels) in split.items():
        write_split(tmp_path, name, images, labels)
    return tmp_path, split


@given(
    dtype=st.sampled_from(list(TYPE_CODES)),
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_read_idx_round_trips_every_type(tmp_path_factory, dtype, shape, seed):
    rng = np.random.default_rng(seed)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    folder = tmp_path_factory.mktemp("idx")
    for gz in (True, False):
        got = read_idx(write_idx(folder / "a", array, gz=gz))
        assert got.dtype == np.dtype(dtype) and got.dtype.isnative
        np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("subset", ["train", "test"])
def test_tiny_files(tiny, subset):
    folder, split = tiny
    images, labels = split[subset]
    bunch = load_fashion_mnist(subset, path=folder)
    # Channels first, one grey channel: (n, 1, 28, 28).
    np.testing.assert_array_equal(bunch.images, images[:, None])
    assert bunch.images.dtype == np.uint8
    assert bunch.data.dtype == np.float32 and bunch.data.shape == (len(images), 784)
    np.testing.assert_array_equal(bunch.data, images.reshape(-1, 784) / np.float32(255))
    np.testing.assert_array_equal(bunch.target, labels)
    assert bunch.target.dtype == np.int64
    assert list(bunch.target_names) == list(_fashion_mnist.CLASS_NAMES)
    assert "Fashion-MNIST" in bunch.DESCR
    assert [Path(f).name for f in bunch.filenames] == [
        f"{'train' if subset == 'train' else 't10k'}-{kind}-idx{d}-ubyte.gz"
        for kind, d in (("images", 3), ("labels", 1))
    ]
    X, y = load_fashion_mnist(subset, path=folder, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_all_is_train_then_test(tiny):
    folder, split = tiny
    X, y = load_fashion_mnist("all", path=folder, return_X_y=True)
    np.testing.assert_array_equal(y, np.r_[split["train"][1], split["test"][1]])
    assert X.shape == (10, 784)


def test_uncompressed_files(tmp_path, rng):
    images = rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)
    write_split(tmp_path, "test", images, np.array([1, 2], np.uint8), gz=False)
    np.testing.assert_array_equal(
        load_fashion_mnist("test", path=tmp_path).images[:, 0], images
    )


def test_data_home_and_environment(tiny, monkeypatch, tmp_path_factory):
    folder, split = tiny
    home = folder.parent / "home"
    (home).mkdir()
    folder.rename(home / "fashion-mnist")
    _, y = load_fashion_mnist("test", data_home=home, return_X_y=True)
    np.testing.assert_array_equal(y, split["test"][1])
    # Without path or data_home: the Debian folder first, then $SKLHASH_DATA.
    monkeypatch.setattr(_fashion_mnist, "DEBIAN_DIR", str(home / "nowhere"))
    monkeypatch.setenv("SKLHASH_DATA", str(home))
    _, y = load_fashion_mnist("test", return_X_y=True)
    np.testing.assert_array_equal(y, split["test"][1])


def test_not_found_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setattr(_fashion_mnist, "DEBIAN_DIR", str(tmp_path / "debian"))
    monkeypatch.setenv("SKLHASH_DATA", str(tmp_path / "env"))
    with pytest.raises(ValueError) as info:
        load_fashion_mnist()
    msg = str(info.value)
    assert str(tmp_path / "debian") in msg
    assert str(tmp_path / "env" / "fashion-mnist") in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "github.com/zalandoresearch/fashion-mnist" in msg
    # Only the test split is there: asking for "all" names the missing file.
    write_split(
        tmp_path, "test", np.zeros((1, 28, 28), np.uint8), np.zeros(1, np.uint8)
    )
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        load_fashion_mnist("all", path=tmp_path)


def _images_file(folder):
    return folder / "train-images-idx3-ubyte.gz"


@pytest.mark.parametrize(
    "corruption",
    [
        "truncated_gzip",
        "bad_crc",
        "not_gzip",
        "bad_magic",
        "short_header",
        "missing_bytes",
        "extra_bytes",
        "empty",
    ],
)
def test_corrupt_file_names_it(tiny, corruption):
    folder, split = tiny
    target = _images_file(folder)
    gz = target.read_bytes()
    raw = gzip.decompress(gz)
    if corruption == "truncated_gzip":
        target.write_bytes(gz[: len(gz) // 2])
    elif corruption == "bad_crc":
        target.write_bytes(gz[:-8] + bytes([gz[-8] ^ 0xFF]) + gz[-7:])
    elif corruption == "not_gzip":
        target.write_bytes(b"<html>404 Not Found</html>")
    elif corruption == "bad_magic":
        target.write_bytes(gzip.compress(b"\x1f\x8b" + raw[2:]))
    elif corruption == "short_header":
        target.write_bytes(gzip.compress(raw[:9]))
    elif corruption == "missing_bytes":
        target.write_bytes(gzip.compress(raw[:-1]))
    elif corruption == "extra_bytes":
        target.write_bytes(gzip.compress(raw + b"\x00"))
    elif corruption == "empty":
        target.write_bytes(gzip.compress(b""))
    with pytest.raises(ValueError, match=str(target)):
        load_fashion_mnist(path=folder)


@pytest.mark.parametrize(
    "images, labels, match",
    [
        (np.zeros((3, 28, 27), np.uint8), np.zeros(3, np.uint8), "28x28 uint8"),
        (np.zeros((3, 28, 28), np.int32), np.zeros(3, np.uint8), "28x28 uint8"),
        (np.zeros((3, 28, 28), np.uint8), np.zeros((3, 1), np.uint8), "1-d uint8"),
        (np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8), "2 labels but"),
        (
            np.zeros((3, 28, 28), np.uint8),
            np.array([0, 10, 1], np.uint8),
            "holds label 10",
        ),
    ],
)
def test_inconsistent_files(tmp_path, images, labels, match):
    write_split(tmp_path, "train", images, labels)
    with pytest.raises(ValueError, match=match) as info:
        load_fashion_mnist(path=tmp_path)
    assert str(tmp_path) in str(info.value)


class ReadCounter:
    """Wraps gzip.open's stream and counts the decompressed bytes handed out."""

    def __init__(self, monkeypatch):
        import sklhash.datasets._base as base

        self.total = 0
        real_open = base.gzip.open
        counter = self

        class Counting:
            def __init__(self, stream):
                self.stream = stream

            def read(self, n=-1):
                out = self.stream.read(n)
                counter.total += len(out)
                return out

            def readinto(self, buf):
                n = self.stream.readinto(buf)
                counter.total += n
                return n

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.stream.close()

        monkeypatch.setattr(
            base.gzip, "open", lambda *a, **k: Counting(real_open(*a, **k))
        )


def bomb(n_labels, payload_mib):
    """A labels file announcing ``n_labels`` and holding ``payload_mib`` MiB."""
    header = bytes([0, 0, 0x08, 1]) + struct.pack(">I", n_labels)
    compressor = gzip.compress  # one stream; zeros compress ~1000:1
    return compressor(header + bytes(payload_mib << 20), compresslevel=1)


def test_gzip_bomb_is_stopped_at_the_announced_size(tmp_path, monkeypatch):
    # A labels file whose header announces 10 labels and whose gzip stream
    # expands to 16 MiB: only the 10 announced bytes (plus one to see that
    # more follows) may be decompressed.
    images = np.zeros((10, 28, 28), np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(bomb(10, 16))
    counter = ReadCounter(monkeypatch)
    with pytest.raises(ValueError, match="more data than the 10 bytes its header"):
        load_fashion_mnist("test", path=tmp_path)
    assert counter.total < 1 << 20
    counter.total = 0
    with pytest.raises(ValueError, match="more data than the 10 bytes"):
        read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz")
    assert counter.total < 1 << 20


def test_header_is_checked_before_any_payload(tmp_path, monkeypatch):
    # Headers announcing more images than the published split, or counts
    # that disagree, are refused before a byte of payload is decompressed.
    counter = ReadCounter(monkeypatch)
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 10**6, 28, 28)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(header + bytes(1 << 20))
    )
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(10**6, np.uint8))
    with pytest.raises(ValueError, match="announce 1000000 images.*test split has"):
        load_fashion_mnist("test", path=tmp_path)
    assert counter.total < 64
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(10, np.uint8))
    counter.total = 0
    with pytest.raises(ValueError, match="has 10 labels but .* has 1000000 images"):
        load_fashion_mnist("test", path=tmp_path)
    assert counter.total < 64


def test_read_idx_max_bytes(tmp_path):
    path = write_idx(tmp_path / "a", np.zeros((4, 5), np.int32))
    assert read_idx(path, max_bytes=80).shape == (4, 5)
    with pytest.raises(
        ValueError,
        match=r"announces shape \(4, 5\), 80 bytes.*"
        "max_bytes=79",
    ):
        read_idx(path, max_bytes=79)
    # A header announcing 2**32-1 items of float64 (32 GiB) with no data:
    # refused by the bound, nothing allocated.
    raw = bytes([0, 0, 0x0E, 1]) + struct.pack(">I", 2**32 - 1)
    huge = write_idx(tmp_path / "b", None, raw=raw)
    with pytest.raises(ValueError, match="more than max_bytes"):
        read_idx(huge)
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="max_bytes must be an int"):
            read_idx(path, max_bytes=bad)


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_not_a_regular_file(tmp_path, kind):
    target = tmp_path / "train-labels-idx1-ubyte.gz"
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    if kind == "folder":
        target.mkdir()
        # the loader does not see a folder as the labels file
        with pytest.raises(ValueError, match="not found"):
            load_fashion_mnist(path=tmp_path)
        with pytest.raises(ValueError, match=f"{target} is not a regular file"):
            read_idx(target)
    else:
        with fifo(target):  # reading it would block forever
            with pytest.raises(ValueError, match=f"{target} is not a regular file"):
                read_idx(target)


def test_bad_subset():
    with pytest.raises(ValueError, match="subset"):
        load_fashion_mnist("validation")


# ------------------------------------------------------------ real Debian files
@pytest.fixture(scope="module")
def real_all():
    if not DEBIAN_DIR.is_dir():
        pytest.fail(
            "Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist "
            "(the README's install command does it)"
        )
    return load_fashion_mnist("all")


def test_real_files(real_all):
    b = real_all
    assert b.data.shape == (70000, 784) and b.data.dtype == np.float32
    assert b.images.shape == (70000, 1, 28, 28) and b.images.dtype == np.uint8
    assert 0.0 <= b.data.min() and b.data.max() <= 1.0
    # Published split sizes and perfectly balanced classes.
    np.testing.assert_array_equal(np.bincount(b.target[:60000]), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(b.target[60000:]), [1000] * 10)
    assert b.hierarchy.classes == list(range(10))
    # Shirt (6) and T-shirt/top (0) meet lower in the tree than shirt and bag (8).
    assert b.hierarchy.similarity(0, 6) > b.hierarchy.similarity(6, 8)


def test_real_test_split_is_the_tail_of_all(real_all):
    X, y = load_fashion_mnist("test", return_X_y=True)
    np.testing.assert_array_equal(y, real_all.target[60000:])
    np.testing.assert_array_equal(X[:100], real_all.data[60000:60100])
