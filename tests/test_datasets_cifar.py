"""load_cifar100 on a 20-image pickle trio written in the published format."""

import gzip
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from sklhash.datasets import load_cifar100

FINE_NAMES = [f"fine_{i:02d}" for i in range(100)]
COARSE_NAMES = [f"coarse_{i:02d}" for i in range(20)]


def fine_to_coarse(fine):
    return np.asarray(fine) // 5


class Py2Pickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote for the published files: byte
    strings as (SHORT_)BINSTRING and numpy's ``numpy.core.multiarray``."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes

    def save_global(self, obj, name=None):
        if getattr(obj, "__name__", None) == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def dump(obj, style):
    buf = io.BytesIO()
    if style == "py2":
        Py2Pickler(buf, protocol=2).dump(obj)
    else:  # what a re-pickling with Python 3 would give
        pickle.dump(obj, buf, protocol=2)
    return buf.getvalue()


def make_split(rng, n):
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    fine = rng.integers(0, 100, n)
    planes = images.transpose(0, 3, 1, 2).reshape(n, 3072)  # R, G, B planes
    batch = {
        b"batch_label": b"training batch 1 of 1",
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        b"fine_labels": [int(f) for f in fine],
        b"coarse_labels": [int(c) for c in fine_to_coarse(fine)],
        b"data": planes,
    }
    return images, fine, batch


META = {
    b"fine_label_names": [n.encode() for n in FINE_NAMES],
    b"coarse_label_names": [n.encode() for n in COARSE_NAMES],
}


@pytest.fixture(params=["py2", "py3"])
def trio(tmp_path, rng, request):
    """``cifar-100-python/{train,test,meta}``: 20 training, 10 test images."""
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    truth = {}
    for split, n in (("train", 20), ("test", 10)):
        images, fine, batch = make_split(rng, n)
        truth[split] = images, fine
        (folder / split).write_bytes(dump(batch, request.param))
    (folder / "meta").write_bytes(dump(META, request.param))
    return folder, truth


def make_archive(folder, archive):
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-100-python")
    return archive


@pytest.mark.parametrize("subset", ["train", "test", "all"])
def test_trio(trio, subset):
    folder, truth = trio
    splits = ["train", "test"] if subset == "all" else [subset]
    images = np.concatenate([truth[s][0] for s in splits])
    fine = np.concatenate([truth[s][1] for s in splits])
    b = load_cifar100(folder, subset=subset)
    # Channels first: (n, C, H, W).
    assert b.images.shape == (len(images), 3, 32, 32) and b.images.dtype == np.uint8
    np.testing.assert_array_equal(b.images, images.transpose(0, 3, 1, 2))
    assert b.data.dtype == np.float32 and b.data.shape == (len(images), 3072)
    expected = images.transpose(0, 3, 1, 2).reshape(len(images), -1) / np.float32(255)
    np.testing.assert_array_equal(b.data, expected)
    np.testing.assert_array_equal(b.target, fine)
    np.testing.assert_array_equal(b.coarse_target, fine_to_coarse(fine))
    assert b.target.dtype == b.coarse_target.dtype == np.int64
    assert list(b.target_names) == FINE_NAMES
    assert list(b.coarse_target_names) == COARSE_NAMES
    assert b.filenames[0] == "img_0.png" and len(b.filenames) == len(images)
    assert b.hierarchy.classes == list(range(100))
    assert "CIFAR-100" in b.DESCR
    X, y = load_cifar100(folder, subset=subset, return_X_y=True)
    np.testing.assert_array_equal(X, b.data)
    np.testing.assert_array_equal(y, b.target)


def test_red_pixel_lands_in_the_red_channel(tmp_path):
    # The published layout: 1024 red values, then 1024 green, then 1024 blue.
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    row = np.zeros(3072, np.uint8)
    row[0] = 255  # red plane, pixel (0, 0)
    row[1024 + 33] = 128  # green plane, pixel (1, 1)
    batch = {b"data": row[None], b"fine_labels": [3], b"coarse_labels": [0]}
    (folder / "test").write_bytes(dump(batch, "py2"))
    (folder / "meta").write_bytes(dump(META, "py2"))
    b = load_cifar100(folder, subset="test")
    img = b.images[0]  # (C, H, W)
    assert img[:, 0, 0].tolist() == [255, 0, 0]
    assert img[:, 1, 1].tolist() == [0, 128, 0]
    assert img.sum() == 255 + 128
    # data is the same (C, H, W) order flattened, what the "cnn" backbone
    # reshapes flat rows into.
    np.testing.assert_array_equal(b.data[0], img.reshape(-1) / np.float32(255))
    assert b.data[0, 0] == 1 and b.data[0, 1024 + 33] == np.float32(128 / 255)


def test_archive_and_folder_locations(trio, monkeypatch):
    folder, truth = trio
    archive = make_archive(folder, folder.parent / "cifar-100-python.tar.gz")
    expected = truth["test"][1]
    for where in (archive, folder, folder.parent, str(archive)):
        _, y = load_cifar100(where, subset="test", return_X_y=True)
        np.testing.assert_array_equal(y, expected)
    # The archive alone, found through data_home and $SKLHASH_DATA.
    home = folder.parent / "home"
    home.mkdir()
    archive.rename(home / archive.name)
    _, y = load_cifar100(data_home=home, subset="test", return_X_y=True)
    np.testing.assert_array_equal(y, expected)
    monkeypatch.setenv("SKLHASH_DATA", str(home))
    _, y = load_cifar100(subset="test", return_X_y=True)
    np.testing.assert_array_equal(y, expected)


def test_not_found_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLHASH_DATA", str(tmp_path))
    with pytest.raises(ValueError) as info:
        load_cifar100()
    msg = str(info.value)
    assert str(tmp_path / "cifar-100-python.tar.gz") in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz" in msg


def _truncate(path):
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def test_truncated_pickle_names_it(trio):
    folder, _ = trio
    _truncate(folder / "train")
    with pytest.raises(ValueError, match=f"Cannot unpickle {folder / 'train'}"):
        load_cifar100(folder)
    # The test split is intact and still loads.
    load_cifar100(folder, subset="test")


def test_missing_pickle_names_it(trio):
    folder, _ = trio
    os.remove(folder / "test")
    with pytest.raises(ValueError, match=str(folder / "test")):
        load_cifar100(folder, subset="all")


def test_truncated_archive_names_it(trio):
    folder, _ = trio
    archive = make_archive(folder, folder.parent / "cifar-100-python.tar.gz")
    _truncate(archive)
    with pytest.raises(ValueError, match=str(archive)):
        load_cifar100(archive)


def test_archive_without_member(tmp_path):
    archive = tmp_path / "other.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-100-python/meta")
        raw = dump(META, "py2")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(ValueError, match="no member named 'train'"):
        load_cifar100(archive)


def test_gzip_of_garbage(tmp_path):
    archive = tmp_path / "cifar-100-python.tar.gz"
    archive.write_bytes(gzip.compress(b"not a tar file" * 100))
    with pytest.raises(ValueError, match=str(archive)):
        load_cifar100(archive)


def test_code_in_pickle_is_refused(trio):
    folder, _ = trio

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (folder / "meta").write_bytes(pickle.dumps({b"x": Exploit()}, protocol=2))
    with pytest.raises(ValueError, match="refusing to load (posix|nt).system"):
        load_cifar100(folder)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda b: b.pop(b"fine_labels"), "no 'fine_labels' entry"),
        (lambda b: b.update({b"data": b[b"data"][:, :-1]}), r"shape \(n, 3072\)"),
        (lambda b: b.update({b"data": b[b"data"].astype(np.int16)}), "must be uint8"),
        (
            lambda b: b.update({b"fine_labels": b[b"fine_labels"][:-1]}),
            "19 fine_labels for 20 images",
        ),
        (
            lambda b: b.update(
                {b"fine_labels": [100] * 20, b"coarse_labels": [0] * 20}
            ),
            r"fine_labels must lie in 0..99",
        ),
        (lambda b: b.update({b"coarse_labels": [20] * 20}), r"coarse_labels must lie"),
        (
            lambda b: b.update(
                {b"fine_labels": [7] * 20, b"coarse_labels": [0] * 10 + [1] * 10}
            ),
            "fine class 7 .'fine_07'. appears under several coarse classes",
        ),
    ],
)
def test_inconsistent_train_pickle(tmp_path, rng, edit, match):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    _, _, batch = make_split(rng, 20)
    edit(batch)
    (folder / "train").write_bytes(dump(batch, "py2"))
    (folder / "meta").write_bytes(dump(META, "py2"))
    with pytest.raises(ValueError, match=match):
        load_cifar100(folder)


def test_bad_meta(trio):
    folder, _ = trio
    (folder / "meta").write_bytes(
        dump(
            {
                b"fine_label_names": META[b"fine_label_names"][:99],
                b"coarse_label_names": META[b"coarse_label_names"],
            },
            "py2",
        )
    )
    with pytest.raises(ValueError, match="names 99 fine and 20 coarse"):
        load_cifar100(folder)
    (folder / "meta").write_bytes(dump([1, 2], "py2"))
    with pytest.raises(ValueError, match=f"{folder / 'meta'} does not hold a dict"):
        load_cifar100(folder)


# --------------------------------------------------- pickles are not trusted
class WritesMarker:
    """Unpickled by plain pickle, this would create ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class RunsShell:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize("payload", [WritesMarker, RunsShell])
@pytest.mark.parametrize("member", ["meta", "train"])
def test_hostile_pickle_runs_nothing(trio, tmp_path, payload, member):
    folder, _ = trio
    marker = tmp_path / "pwned"
    (folder / member).write_bytes(pickle.dumps({b"data": payload(marker)}, protocol=2))
    with pytest.raises(ValueError, match=f"Cannot unpickle .*{member}.*refusing"):
        load_cifar100(folder)
    assert not marker.exists()


def _swap_dtype(raw, old, new):
    """A pickle of a uint64 array with its dtype code replaced."""
    swapped = raw.replace(b"X\x02\x00\x00\x00" + old, b"X\x02\x00\x00\x00" + new)
    assert swapped != raw
    return swapped


@pytest.mark.parametrize("code", [b"O8", b"V8", b"M8", b"U2"])
def test_arrays_of_other_dtypes_are_refused(trio, code):
    # An object array rebuilt by numpy from raw bytes reads them as pointers
    # (a crash, or worse): only plain numeric dtypes are rebuilt.
    folder, _ = trio
    raw = pickle.dumps(
        {b"data": np.array([0x41414141], np.uint64), b"fine_labels": []},
        protocol=2,
    )
    (folder / "train").write_bytes(_swap_dtype(raw, b"u8", code))
    with pytest.raises(ValueError, match="Cannot unpickle .*refusing dtype"):
        load_cifar100(folder)


def test_dtype_with_fields_is_refused(trio):
    folder, _ = trio
    evil = np.zeros(1, dtype=[("a", "u8")])
    (folder / "meta").write_bytes(pickle.dumps({b"x": evil}, protocol=2))
    with pytest.raises(ValueError, match="refusing dtype"):
        load_cifar100(folder)


def test_other_codecs_are_refused(trio):
    folder, _ = trio
    # _codecs.encode("...", "zlib") is allowed by name, not by codec.
    raw = (
        b"\x80\x02}q\x00C\x01kq\x01c_codecs\nencode\nq\x02X\x03\x00\x00\x00abc"
        b"X\x04\x00\x00\x00zlib\x86Rs."
    )
    (folder / "meta").write_bytes(raw)
    with pytest.raises(ValueError, match="_codecs.encode with 'zlib'"):
        load_cifar100(folder)


def test_deep_nesting_is_refused(trio):
    folder, _ = trio
    deep = []
    for _ in range(50):
        deep = [deep]
    (folder / "meta").write_bytes(pickle.dumps({b"x": deep}, protocol=2))
    with pytest.raises(ValueError, match="nested deeper"):
        load_cifar100(folder)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_python3_pickles_of_every_protocol_load(trio, protocol):
    folder, truth = trio
    images, fine = truth["test"]
    batch = {
        "data": images.transpose(0, 3, 1, 2).reshape(len(images), 3072),
        "fine_labels": np.asarray(fine, np.int64),  # an array, not a list
        "coarse_labels": [np.int64(c) for c in fine_to_coarse(fine)],  # scalars
    }
    (folder / "test").write_bytes(pickle.dumps(batch, protocol=protocol))
    b = load_cifar100(folder, subset="test")
    np.testing.assert_array_equal(b.images, images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(b.target, fine)
    np.testing.assert_array_equal(b.coarse_target, fine_to_coarse(fine))


# ------------------------------------------------------------ bounded reads
def test_oversized_member_is_refused_before_reading(trio, monkeypatch):
    from sklhash.datasets import _cifar

    folder, _ = trio
    archive = make_archive(folder, folder.parent / "cifar-100-python.tar.gz")
    monkeypatch.setitem(_cifar._MAX_MEMBER_BYTES, "meta", 100)
    with pytest.raises(ValueError, match="meta announces .* bytes, more than the 100"):
        load_cifar100(archive)
    with pytest.raises(ValueError, match="meta is larger than 100 bytes"):
        load_cifar100(folder)


def test_member_that_is_not_a_regular_file(trio):
    from _fileprobes import fifo

    folder, _ = trio
    os.remove(folder / "test")
    with fifo(folder / "test"):
        with pytest.raises(ValueError, match="test is not a regular file"):
            load_cifar100(folder, subset="test")


@pytest.mark.parametrize(
    "edit, match",
    [
        # float labels would be truncated silently by astype(int64)
        (lambda b: b.update({b"fine_labels": [3.7] * 20}), "fine_labels must hold int"),
        (lambda b: b.update({b"coarse_labels": ["1"] * 20}), "coarse_labels must hold"),
        # misaligned names would point at other images
        (lambda b: b[b"filenames"].pop(), "19 filenames for 20 images"),
    ],
)
def test_labels_and_names_are_not_coerced(tmp_path, rng, edit, match):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    _, _, batch = make_split(rng, 20)
    edit(batch)
    (folder / "train").write_bytes(dump(batch, "py2"))
    (folder / "meta").write_bytes(dump(META, "py2"))
    with pytest.raises(ValueError, match=match):
        load_cifar100(folder)
