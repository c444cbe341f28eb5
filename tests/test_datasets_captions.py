"""load_conceptual_captions on a 5-line TSV in the published format."""

import zlib

import numpy as np
import pytest

from sklhash.datasets import load_conceptual_captions

URL0 = "http://example.com/images/boat.jpg"
URL1 = "https://cdn.example.org/a/b/c.png?w=600"
URL2 = "http://example.net/photo/dog-on-beach"


@pytest.fixture
def tsv(tmp_path):
    """3 published rows (caption, URL) and 2 rows with local paths."""
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "cat.jpg").write_bytes(b"jpeg bytes")
    lines = [
        f"a boat on the river\t{URL0}",
        f"actor attends the premiere of the film\t{URL1}",
        f"dog running on the beach\t{URL2}",
        "a cat sleeping on a sofa\tlocal/cat.jpg",
        f"a missing picture\t{tmp_path / 'gone.jpg'}",
    ]
    path = tmp_path / "Validation_GCC-1.1.0-Validation.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def crc32_name(url):
    return str(zlib.crc32(url.encode()) & 0xFFFFFFFF)


def test_published_rows_without_images(tsv):
    b = load_conceptual_captions(tsv)
    assert b.captions[0] == "a boat on the river" and len(b.captions) == 5
    assert b.data is b.captions
    assert b.urls == [URL0, URL1, URL2, None, None]
    # No image_root: URL rows have no local path; local rows resolve
    # against the TSV's folder.
    assert b.image_paths[:3] == [None] * 3
    assert b.image_paths[3] == str(tsv.parent / "local" / "cat.jpg")
    np.testing.assert_array_equal(b.image_exists, [False, False, False, True, False])
    assert b.filename == str(tsv)
    assert "Conceptual Captions" in b.DESCR
    X, y = load_conceptual_captions(tsv, return_X_y=True)
    assert X == b.captions and y == b.image_paths


def test_image_root_and_names(tsv, tmp_path):
    # The last row's absolute path lies outside image_root: drop it here.
    tsv.write_text("\n".join(tsv.read_text().splitlines()[:4]) + "\n")
    root = tmp_path / "validation"
    root.mkdir()
    (root / crc32_name(URL1)).write_bytes(b"png")  # how download_data.py names it
    (root / "local").mkdir()
    b = load_conceptual_captions(tsv, image_root=root)
    assert b.image_paths[:3] == [str(root / crc32_name(u)) for u in (URL0, URL1, URL2)]
    # A relative local path now resolves against image_root (absent there).
    assert b.image_paths[3] == str(root / "local" / "cat.jpg")
    np.testing.assert_array_equal(b.image_exists, [False, True, False, False])

    b = load_conceptual_captions(tsv, image_root=root, image_names="index")
    assert b.image_paths[:3] == [str(root / str(i)) for i in range(3)]
    b = load_conceptual_captions(
        tsv, image_root=root, image_names=lambda i, url: f"{i:08d}.jpg"
    )
    assert b.image_paths[2] == str(root / "00000002.jpg")
    b = load_conceptual_captions(tsv, image_root=root, check_exists=False)
    assert not b.image_exists.any()


def test_line_endings_and_blank_lines(tmp_path):
    path = tmp_path / "crlf.tsv"
    path.write_bytes(f"one\t{URL0}\r\n\r\ntwo \t {URL1}\r\n\n".encode())
    b = load_conceptual_captions(path)
    assert b.captions == ["one", "two"] and b.urls == [URL0, URL1]


def test_unicode_captions(tmp_path):
    path = tmp_path / "u.tsv"
    path.write_text(f"café in Zürich — 東京\t{URL0}\n", encoding="utf-8")
    assert load_conceptual_captions(path).captions == ["café in Zürich — 東京"]


@pytest.mark.parametrize(
    "bad, fields",
    [
        ("a caption without any url", 1),
        (f"caption\t{URL0}\textra column", 3),
        (f"\t{URL0}", 2),
        ("caption\t   ", 2),
    ],
)
def test_malformed_line_names_file_and_line(tsv, bad, fields):
    lines = tsv.read_text().splitlines()
    lines.insert(2, bad)
    tsv.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=f"{tsv}, line 3: .*got {fields} field"):
        load_conceptual_captions(tsv)


def test_not_utf8_names_line(tsv):
    tsv.write_bytes(tsv.read_bytes() + b"caf\xe9\thttp://x.org/1.jpg\n")
    with pytest.raises(ValueError, match=f"{tsv}, line 6: not UTF-8"):
        load_conceptual_captions(tsv)


def test_not_found_says_where_to_get_it(tmp_path):
    with pytest.raises(ValueError) as info:
        load_conceptual_captions(tmp_path / "Train_GCC-training.tsv")
    msg = str(info.value)
    assert str(tmp_path / "Train_GCC-training.tsv") in msg
    assert "ai.google.com/research/ConceptualCaptions/download" in msg


# ------------------------------------------------ image paths stay in the root
@pytest.mark.parametrize(
    "row",
    ["../../../../../../etc/shadow", "/etc/shadow", "local/../../outside.jpg"],
)
@pytest.mark.parametrize("with_root", [False, True])
@pytest.mark.parametrize("check_exists", [True, False])
def test_rows_escaping_the_root_are_refused(
    tsv, tmp_path, row, with_root, check_exists
):
    root = tmp_path / "validation"
    root.mkdir()
    tsv.write_text(f"a boat\t{URL0}\nthe secret\t{row}\n")
    with pytest.raises(ValueError, match=f"{tsv}, line 2: .* outside"):
        load_conceptual_captions(
            tsv, image_root=root if with_root else None, check_exists=check_exists
        )


@pytest.mark.parametrize("name", ["../escape.jpg", "/etc/passwd"])
def test_image_names_escaping_the_root_are_refused(tsv, tmp_path, name):
    root = tmp_path / "validation"
    root.mkdir()
    with pytest.raises(ValueError, match="line 1: .* outside image_root"):
        load_conceptual_captions(tsv, image_root=root, image_names=lambda i, u: name)


def test_image_names_must_return_a_path(tsv, tmp_path):
    with pytest.raises(ValueError, match="image_names returned None"):
        load_conceptual_captions(
            tsv, image_root=tmp_path, image_names=lambda i, u: None
        )


def test_links_leading_outside_the_root_are_refused(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"private")
    (root / "a.jpg").symlink_to(secret)
    (root / "sub").symlink_to(tmp_path, target_is_directory=True)
    (root / "ok.jpg").write_bytes(b"jpeg")
    (root / "alias.jpg").symlink_to(root / "ok.jpg")  # inside: fine
    path = root / "list.tsv"
    path.write_text("fine\tok.jpg\nalias\talias.jpg\n")
    b = load_conceptual_captions(path)
    np.testing.assert_array_equal(b.image_exists, [True, True])
    for row, why in (
        ("a.jpg", "symbolic link to a file"),
        ("sub/secret.jpg", "folder"),
    ):
        path.write_text(f"fine\tok.jpg\nleak\t{row}\n")
        with pytest.raises(ValueError, match=f"line 2: '{row}' .*{why}.* outside"):
            load_conceptual_captions(path)


def test_absolute_paths_anywhere_need_an_explicit_root(tmp_path):
    elsewhere = tmp_path / "elsewhere.jpg"
    elsewhere.write_bytes(b"jpeg")
    folder = tmp_path / "captions"
    folder.mkdir()
    path = folder / "list.tsv"
    path.write_text(f"a picture\t{elsewhere}\n")
    with pytest.raises(ValueError, match="outside the TSV's folder"):
        load_conceptual_captions(path)
    b = load_conceptual_captions(path, image_root="/")
    assert b.image_paths == [str(elsewhere)] and b.image_exists.all()


def test_missing_image_root_is_an_error(tsv, tmp_path):
    # Silently, every image_exists would be False.
    with pytest.raises(ValueError, match="image_root=.*nowhere.* is not a folder"):
        load_conceptual_captions(tsv, image_root=tmp_path / "nowhere")


def test_line_without_end_is_bounded(tmp_path, monkeypatch):
    from sklhash.datasets import _captions

    monkeypatch.setattr(_captions, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "one-line.tsv"
    path.write_bytes(b"a\t" + b"x" * 5000)
    with pytest.raises(ValueError, match="line 1: longer than MAX_LINE_BYTES=1000"):
        load_conceptual_captions(path)


def test_tsv_that_is_not_a_regular_file(tmp_path):
    from _fileprobes import fifo

    with fifo(tmp_path / "pipe.tsv") as pipe:
        with pytest.raises(ValueError, match="pipe.tsv is not a regular file"):
            load_conceptual_captions(pipe)


def test_relative_root_and_absolute_rows(tmp_path, monkeypatch):
    # A root given relative to the working folder: an absolute row inside it
    # is inside, "../x" is not.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(b"jpeg")
    path = tmp_path / "list.tsv"
    path.write_text(f"one\t{tmp_path / 'images' / 'a.jpg'}\ntwo\ta.jpg\n")
    b = load_conceptual_captions(path, image_root="images")
    assert b.image_paths == [str(tmp_path / "images" / "a.jpg"), "images/a.jpg"]
    assert b.image_exists.all()
    path.write_text("one\t../list.tsv\n")
    with pytest.raises(ValueError, match="outside image_root images"):
        load_conceptual_captions(path, image_root="images")
