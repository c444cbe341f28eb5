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
    root = tmp_path / "validation"
    root.mkdir()
    (root / crc32_name(URL1)).write_bytes(b"png")  # how download_data.py names it
    (root / "local").mkdir()
    b = load_conceptual_captions(tsv, image_root=root)
    assert b.image_paths[:3] == [str(root / crc32_name(u)) for u in (URL0, URL1, URL2)]
    # A relative local path now resolves against image_root (absent there).
    assert b.image_paths[3] == str(root / "local" / "cat.jpg")
    np.testing.assert_array_equal(b.image_exists, [False, True, False, False, False])

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
