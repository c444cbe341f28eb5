"""load_image_folder on a 3-class folder of tiny images named by real wnids."""

import os

import numpy as np
import pytest
from _fileprobes import fifo
from PIL import Image

from sklhash.datasets import LazyImageArray, load_image_folder

# Real WordNet 3.0 noun ids (ImageNet's wnids): dog, domestic cat, car.
DOG, CAT, CAR = "n02084071", "n02121808", "n02958343"
COLOURS = {DOG: (255, 0, 0), CAT: (0, 255, 0), CAR: (0, 0, 255)}


def solid(path, colour, size=(20, 12), mode="RGB"):
    img = Image.new("RGB", size, colour).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


@pytest.fixture
def tree(tmp_path):
    """ImageNet layout; one solid colour per class, assorted sizes and modes."""
    root = tmp_path / "train"
    solid(root / DOG / f"{DOG}_1.JPEG", COLOURS[DOG], (16, 16))
    solid(root / DOG / f"{DOG}_2.png", COLOURS[DOG], (30, 10))
    solid(root / CAT / f"{CAT}_1.png", COLOURS[CAT], (8, 40), mode="RGBA")
    solid(root / CAT / "sub" / f"{CAT}_2.bmp", COLOURS[CAT])
    solid(root / CAR / f"{CAR}_1.png", (128, 128, 128), mode="L")
    solid(root / CAR / f"{CAR}_2.ppm", COLOURS[CAR], (5, 7))
    solid(root / CAR / f"{CAR}_3.tif", COLOURS[CAR])
    # Not images, or hidden: ignored.
    (root / CAR / "README.txt").write_text("car pictures")
    solid(root / CAR / ".hidden.png", (1, 2, 3))
    (root / ".cache").mkdir()
    return root


# Sorted folder names define the labels: n02084071 < n02121808 < n02958343.
TARGET = [0, 0, 1, 1, 2, 2, 2]


def test_eager(tree):
    b = load_image_folder(tree, image_size=(6, 4), hierarchy=None)
    assert list(b.target_names) == [DOG, CAT, CAR]
    np.testing.assert_array_equal(b.target, TARGET)
    assert b.target.dtype == np.int64
    # Channels first: (n, C, H, W).
    assert b.images.shape == (7, 3, 6, 4) and b.images.dtype == np.uint8
    assert b.data.shape == (7, 6 * 4 * 3) and b.data.dtype == np.float32
    np.testing.assert_array_equal(b.data, b.images.reshape(7, -1) / np.float32(255))
    # Solid images stay solid through resizing and RGB conversion; the
    # grayscale car becomes grey RGB.
    expected = (
        [COLOURS[DOG]] * 2 + [COLOURS[CAT]] * 2 + [(128,) * 3] + [COLOURS[CAR]] * 2
    )
    for img, colour in zip(b.images, expected, strict=True):
        # atol: the first dog is a (lossy) JPEG.
        expected_img = np.broadcast_to(np.reshape(colour, (3, 1, 1)), (3, 6, 4))
        np.testing.assert_allclose(img, expected_img, atol=2)
    assert [p.split("/")[-1] for p in b.filenames][:4] == [
        f"{DOG}_1.JPEG",
        f"{DOG}_2.png",
        f"{CAT}_1.png",
        f"{CAT}_2.bmp",
    ]
    assert "ImageFolder" in b.DESCR
    X, y = load_image_folder(tree, image_size=(6, 4), return_X_y=True)
    np.testing.assert_array_equal(X, b.data)
    np.testing.assert_array_equal(y, b.target)


def test_wordnet_hierarchy(tree):
    h = load_image_folder(tree, image_size=2).hierarchy
    assert h.classes == [0, 1, 2]
    assert h.lcs(0, 1) == "carnivore.n.01"
    assert h.similarity(0, 1) > h.similarity(0, 2)
    assert h.similarity(0, 2) == h.similarity(1, 2)
    assert h.name(2) == CAR


def test_missing_wordnet_suggests_skipping_it(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("SKLHASH_WORDNET", str(tmp_path / "no-wordnet"))
    with pytest.raises(LookupError, match="pass hierarchy=None"):
        load_image_folder(tree, image_size=2)


def test_no_hierarchy(tree, tmp_path):
    assert load_image_folder(tree, image_size=2, hierarchy=None).hierarchy is None
    root = tmp_path / "named"
    solid(root / "dogs" / "a.png", COLOURS[DOG])
    solid(root / CAT / "a.png", COLOURS[CAT])
    b = load_image_folder(root, image_size=2)
    assert b.hierarchy is None
    assert list(b.target_names) == ["dogs", CAT]


def test_lazy_matches_eager(tree):
    eager = load_image_folder(tree, image_size=5, hierarchy=None)
    lazy = load_image_folder(tree, image_size=5, lazy=True, hierarchy=None)
    assert isinstance(lazy.data, LazyImageArray)
    assert isinstance(lazy.images, LazyImageArray)
    assert lazy.images.shape == (7, 3, 5, 5) and lazy.data.shape == (7, 75)
    assert lazy.data.dtype == np.float32 and lazy.images.dtype == np.uint8
    assert len(lazy.images) == 7
    np.testing.assert_array_equal(lazy.images[3], eager.images[3])
    np.testing.assert_array_equal(lazy.images[-1], eager.images[-1])
    np.testing.assert_array_equal(lazy.data[2:5], eager.data[2:5])
    np.testing.assert_array_equal(lazy.images[[6, 0]], eager.images[[6, 0]])
    np.testing.assert_array_equal(lazy.images[np.array([], int)], eager.images[:0])
    np.testing.assert_array_equal(np.asarray(lazy.data), eager.data)
    np.testing.assert_array_equal(np.stack(list(lazy.images)), eager.images)
    np.testing.assert_array_equal(lazy.target, eager.target)
    assert "LazyImageArray(n_images=7" in repr(lazy.images)


def test_lazy_does_not_decode_until_asked(tree):
    broken = tree / CAT / f"{CAT}_3.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    b = load_image_folder(tree, lazy=True, hierarchy=None)  # decodes nothing
    i = list(b.filenames).index(str(broken))
    assert b.target[i] == 1
    b.images[i - 1]
    with pytest.raises(ValueError, match=f"Cannot decode image {broken}"):
        b.images[i]
    with pytest.raises(ValueError, match=f"Cannot decode image {broken}"):
        b.data[:]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_image_names_it(tree, damage):
    path = tree / DOG / f"{DOG}_2.png"
    raw = path.read_bytes()
    path.write_bytes(
        {"garbage": b"GIF89a? no", "truncated": raw[: len(raw) // 2], "empty": b""}[
            damage
        ]
    )
    with pytest.raises(ValueError, match=f"Cannot decode image {path}"):
        load_image_folder(tree)


def test_center_crop(tmp_path):
    # 40x20: black quarters left and right, white in the middle half.
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, 10:30] = 255
    path = tmp_path / "root" / "c" / "x.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(pixels).save(path)
    cropped = load_image_folder(path.parents[1], image_size=8, center_crop=True).images[
        0
    ]
    assert (cropped == 255).all()
    stretched = load_image_folder(path.parents[1], image_size=8).images[0]
    assert (stretched[:, :, 0] == 0).all() and (stretched[:, :, 4] == 255).all()


def test_original_sizes(tmp_path, tree):
    root = tmp_path / "same"
    solid(root / "a" / "1.png", (9, 9, 9), (7, 3))
    solid(root / "b" / "1.png", (9, 9, 9), (7, 3))
    assert load_image_folder(root, image_size=None).images.shape == (2, 3, 3, 7)
    with pytest.raises(ValueError, match="different sizes.*pass image_size="):
        load_image_folder(tree, image_size=None)
    lazy = load_image_folder(tree, image_size=None, lazy=True, hierarchy=None)
    assert lazy.images.shape == (7, 3, None, None)
    assert lazy.images[1].shape == (3, 10, 30)
    with pytest.raises(ValueError, match="different sizes"):
        lazy.images[:2]
    with pytest.raises(ValueError, match="unknown size has no shape"):
        lazy.images[:0]


def test_extensions(tree):
    b = load_image_folder(tree, image_size=2, extensions=[".PNG"], hierarchy=None)
    assert all(f.lower().endswith(".png") for f in b.filenames)
    np.testing.assert_array_equal(b.target, [0, 1, 2])


def test_bad_layouts(tmp_path):
    with pytest.raises(ValueError, match="does not exist.*image-net.org"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="has no class sub-folders"):
        load_image_folder(tmp_path)
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "empty_class" / "notes.txt").write_text("")
    with pytest.raises(ValueError, match="empty_class holds no image file"):
        load_image_folder(tmp_path)


@pytest.mark.parametrize("size", [(0, 4), (4,), (2, 2, 2), (2.5, 3), -1])
def test_bad_image_size(tree, size):
    with pytest.raises(ValueError, match="image_size"):
        load_image_folder(tree, image_size=size)


# ------------------------------------------------------- layout (n, C, H, W)
def test_channels_first_layout(tmp_path):
    # One red pixel at row 1, column 2 of a 3x4 black image, one green one at
    # row 2, column 0: channel first, then row, then column, in images and in
    # the flat rows of data (what the "cnn" backbone reshapes to (C, H, W)).
    pixels = np.zeros((3, 4, 3), np.uint8)
    pixels[1, 2] = (255, 0, 0)
    pixels[2, 0] = (0, 255, 0)
    path = tmp_path / "root" / "c" / "x.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(pixels).save(path)
    for lazy in (False, True):
        b = load_image_folder(path.parents[1], image_size=None, lazy=lazy)
        img = np.asarray(b.images)[0]
        assert img.shape == (3, 3, 4)
        assert img[0, 1, 2] == 255 and img[1, 2, 0] == 255 and img.sum() == 510
        row = np.asarray(b.data)[0]
        np.testing.assert_array_equal(row, img.reshape(-1) / np.float32(255))
        assert row[0 * 12 + 1 * 4 + 2] == 1 and row[1 * 12 + 2 * 4 + 0] == 1


# ----------------------------------------------------------- unsafe formats
EPS = b"""%!PS-Adobe-3.0 EPSF-3.0
%%BoundingBox: 0 0 10 10
%%EndComments
newpath 0 0 moveto 10 10 lineto stroke
showpage
%%EOF
"""


def test_eps_named_jpg_never_reaches_ghostscript(tree, monkeypatch):
    from PIL import EpsImagePlugin

    calls = []

    def ghostscript(*args, **kwargs):
        calls.append(args)
        raise OSError("Ghostscript must not run")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: True)
    evil = tree / DOG / "evil.jpg"
    evil.write_bytes(EPS)
    with pytest.raises(ValueError, match=f"Cannot decode image {evil}"):
        load_image_folder(tree, hierarchy=None)
    assert calls == []


@pytest.mark.parametrize("fmt", ["TGA", "PCX", "ICO"])
def test_other_pillow_formats_are_refused(tmp_path, fmt):
    path = tmp_path / "root" / "c" / "x.png"  # the name says PNG, the bytes not
    path.parent.mkdir(parents=True)
    Image.new("RGB", (4, 4), (1, 2, 3)).save(path, format=fmt)
    with pytest.raises(ValueError, match="Cannot decode image .*x.png"):
        load_image_folder(path.parents[1])


def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    from sklhash.datasets import _image_folder

    path = tmp_path / "root" / "c" / "big.png"
    path.parent.mkdir(parents=True)
    Image.new("L", (400, 300)).save(path)  # 120,000 pixels, 300 bytes of PNG
    monkeypatch.setattr(_image_folder, "MAX_IMAGE_PIXELS", 100_000)
    decoded = []
    real_convert = Image.Image.convert
    monkeypatch.setattr(
        Image.Image,
        "convert",
        lambda self, *a, **k: decoded.append(1) or real_convert(self, *a, **k),
    )
    with pytest.raises(ValueError, match="400x300 pixels, more than MAX_IMAGE"):
        load_image_folder(path.parents[1])
    assert decoded == []


def test_fifo_named_like_an_image(tree):
    with fifo(tree / DOG / "pipe.png") as pipe:  # reading it would block
        with pytest.raises(ValueError, match=f"{pipe} is not a regular file"):
            load_image_folder(tree, hierarchy=None)


# ------------------------------------------------ files stay inside the root
def test_symlink_loop_does_not_multiply_images(tree):
    # A link from the cat folder back to the root: followed, it would put
    # every image again (and again) under "cat".
    (tree / CAT / "loop").symlink_to(tree, target_is_directory=True)
    with pytest.raises(ValueError, match="loop is a symbolic link to a folder"):
        load_image_folder(tree, hierarchy=None)


def test_linked_class_folder_is_not_followed(tree, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    solid(elsewhere / "a.png", (1, 2, 3))
    (tree / "n99999999").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ValueError, match="n99999999 is a symbolic link to a folder"):
        load_image_folder(tree, hierarchy=None)


def test_file_link_outside_the_root_is_refused(tree, tmp_path):
    secret = solid(tmp_path / "private" / "secret.png", (7, 7, 7))
    link = tree / DOG / "innocent.png"
    link.symlink_to(secret)
    with pytest.raises(
        ValueError,
        match="innocent.png' is a symbolic link to a file outside the image folder",
    ):
        load_image_folder(tree, hierarchy=None)


def test_file_link_inside_the_root_is_read(tree):
    # A link to an image elsewhere in the tree is an ordinary file.
    (tree / CAR / "alias.png").symlink_to(tree / DOG / f"{DOG}_2.png")
    b = load_image_folder(tree, image_size=3, hierarchy=None)
    assert len(b.target) == 8
    i = list(b.filenames).index(str(tree / CAR / "alias.png"))
    assert b.target[i] == 2


def test_root_may_be_a_link(tree, tmp_path):
    link = tmp_path / "link-to-train"
    link.symlink_to(tree, target_is_directory=True)
    b = load_image_folder(link, image_size=2, hierarchy=None)
    np.testing.assert_array_equal(b.target, TARGET)


def test_unreadable_sub_folder_is_an_error(tree, monkeypatch):
    # os.walk skips a folder it cannot list, silently: fewer images. The
    # failure is simulated, since the tests may run as root.
    locked = tree / CAT / "locked"
    solid(locked / "a.png", (1, 1, 1))
    real_scandir = os.scandir

    def scandir(path):
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(ValueError, match=f"Cannot list image folder {locked}"):
        load_image_folder(tree, hierarchy=None)


@pytest.mark.parametrize("extensions", [[1], [""], (), [".png", None]])
def test_bad_extensions(tree, extensions):
    with pytest.raises(ValueError, match="extensions must be"):
        load_image_folder(tree, extensions=extensions)
