"""Conceptual Captions: the published TSV of captions and image URLs."""

import os
import re
import zlib
from pathlib import Path

import numpy as np

from sklhash.utils._sklearn_compat import StrOptions, validate_params

from ._base import _check_regular_file, _finish, _Root

__all__ = ["load_conceptual_captions"]

URL = "https://ai.google.com/research/ConceptualCaptions/download"

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

# The longest line read. Published lines are under 2 kB; a file without
# newlines would otherwise be read into memory whole as one "line".
MAX_LINE_BYTES = 1 << 20

DESCR = """\
Conceptual Captions
===================

Image-caption pairs harvested from the web (3.3M training pairs in
``Train_GCC-training.tsv``, 15,840 validation pairs in
``Validation_GCC-1.1.0-Validation.tsv``). Each line of the published TSV is
``caption<TAB>image URL``, without a header. The images are not distributed:
download them yourself, then point ``image_root`` at them. For semantic
hashing, encode the captions with ``sklhash.similarity.SentenceEncoder`` and
use their cosine similarity (``EmbeddingSimilarity``) as the target.

Reference: P. Sharma, N. Ding, S. Goodman, R. Soricut, "Conceptual Captions:
A Cleaned, Hypernymed, Image Alt-text Dataset For Automatic Image
Captioning", ACL 2018. Source: https://ai.google.com/research/ConceptualCaptions
"""


def _crc32_name(index, url):
    # The name given by the widely used download_data.py (ViLBERT, LAVIS).
    return str(zlib.crc32(url.encode("utf-8")) & 0xFFFFFFFF)


def _index_name(index, url):
    return str(index)


@validate_params(
    {
        "tsv_path": [str, os.PathLike],
        "image_root": [str, os.PathLike, None],
        "image_names": [StrOptions({"crc32", "index"}), callable],
        "check_exists": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_conceptual_captions(
    tsv_path,
    image_root=None,
    *,
    image_names="crc32",
    check_exists=True,
    return_X_y=False,
):
    """Load Conceptual Captions from the published TSV file.

    Each non-empty line is ``caption<TAB>image``, where ``image`` is either
    a URL (the published files) or a local path (a TSV you wrote after
    downloading the images). Empty lines are skipped; any other line without
    exactly one tab, or with an empty field, is an error.

    Every local image path stays inside its root folder (``image_root``, or
    the TSV's folder without it): a row naming ``../../etc/shadow``, an
    absolute path elsewhere, or (when ``check_exists``) a file or folder
    linked to a place outside the root is an error naming the line. To
    accept absolute paths anywhere, pass ``image_root="/"`` explicitly.

    Parameters
    ----------
    tsv_path : str or path-like
        The TSV file, e.g. ``Validation_GCC-1.1.0-Validation.tsv``.
    image_root : str or path-like, default=None
        Folder holding the downloaded images; it must exist. A relative
        local path is resolved against it (default: the TSV's folder). A URL
        row's image is expected at ``image_root / image_names(index, url)``;
        without ``image_root`` a URL row has no local path. No image path
        may leave this folder.
    image_names : {"crc32", "index"} or callable, default="crc32"
        File name of a URL row's image below ``image_root``: "crc32" is
        ``zlib.crc32(url) & 0xffffffff`` in decimal, the name the widely
        used ``download_data.py`` script (ViLBERT, LAVIS) gives it; "index"
        is the 0-based row number; a callable gets ``(index, url)`` and
        returns the relative path (a str or path-like inside ``image_root``).
    check_exists : bool, default=True
        Whether to check which local images exist (``image_exists``) and
        that no symbolic link on their way leads outside the root. One
        ``stat`` a row: turn off for millions of rows on a slow disk (the
        paths are then confined lexically only, no file is touched).
    return_X_y : bool, default=False
        If True, return ``(captions, image_paths)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data, captions : list of str
            The captions (the same list under both names).
        urls : list of str or None
            The image URL of each row, None for rows with a local path.
        image_paths : list of str or None
            The local image path of each row, None when unknown.
        image_exists : ndarray of shape (n_samples,), bool
            Which local images exist (all False when ``check_exists`` is
            False).
        filename : str
            The TSV file read.
        DESCR : str
            Description of the dataset.

    (captions, image_paths) : tuple if ``return_X_y`` is True
        The captions and the local image paths, without the Bunch.

    Raises
    ------
    ValueError
        If the file does not exist (the message says where to get it), holds
        no row, ``image_root`` is not a folder, or a line is malformed, longer than
        ``MAX_LINE_BYTES`` or names an image outside its root (the message
        names the file and the line number).

    Examples
    --------
    >>> from sklhash.datasets import load_conceptual_captions
    >>> cc = load_conceptual_captions(
    ...     "Validation_GCC-1.1.0-Validation.tsv", image_root="validation"
    ... )  # doctest: +SKIP
    >>> len(cc.captions), int(cc.image_exists.sum())  # doctest: +SKIP
    (15840, 14602)
    """
    tsv_path = Path(tsv_path).expanduser()
    if not tsv_path.exists():
        raise ValueError(
            f"Conceptual Captions TSV {tsv_path} not found. Download "
            "Train_GCC-training.tsv or Validation_GCC-1.1.0-Validation.tsv "
            f"from {URL} (no Debian package exists) and pass its path."
        )
    _check_regular_file(tsv_path, "Conceptual Captions TSV")
    name_of = {"crc32": _crc32_name, "index": _index_name}.get(image_names, image_names)
    if image_root is not None:
        image_root = Path(image_root).expanduser()
        if not image_root.is_dir():
            # Silently, every image_exists would be False.
            raise ValueError(
                f"image_root={os.fspath(image_root)!r} is not a folder: pass the "
                "folder holding the downloaded images"
            )
        root = _Root(image_root, "image_root")
    else:
        root = None
    local_root = (
        root if root is not None else _Root(tsv_path.parent, "the TSV's folder")
    )

    captions, urls, image_paths, exists = [], [], [], []
    with open(tsv_path, "rb") as f:
        for lineno, raw in enumerate(
            iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1
        ):
            if len(raw) > MAX_LINE_BYTES:
                raise ValueError(
                    f"{tsv_path}, line {lineno}: longer than MAX_LINE_BYTES="
                    f"{MAX_LINE_BYTES}; not a caption TSV"
                )
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{tsv_path}, line {lineno}: not UTF-8 text ({exc})"
                ) from exc
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
                raise ValueError(
                    f"{tsv_path}, line {lineno}: expected 'caption<TAB>image "
                    f"URL or path', got {len(fields)} field(s): {line[:80]!r}"
                )
            caption, image = fields[0].strip(), fields[1].strip()
            where = f"{tsv_path}, line {lineno}: "
            if _SCHEME.match(image):
                url = image
                if root is None:
                    image = None
                else:
                    image = name_of(len(captions), url)
                    if not isinstance(image, (str, os.PathLike)):
                        raise ValueError(
                            f"{where}image_names returned {image!r} for {url!r}; "
                            "it must return a str or path-like"
                        )
                    image = os.fspath(image)
                folder = root
            else:
                url, folder = None, local_root
            captions.append(caption)
            urls.append(url)
            if image is None:
                image_paths.append(None)
                exists.append(False)
            elif check_exists:
                # One lstat: the link check and the existence test.
                path, is_file = folder.resolve_file(image, where)
                image_paths.append(path)
                exists.append(is_file)
            else:
                image_paths.append(folder.resolve(image, where, check_links=False))
                exists.append(False)

    if not captions:
        # An empty (or all-blank) file is not an empty dataset but a wrong file.
        raise ValueError(f"{tsv_path} holds no 'caption<TAB>image' row")
    image_exists = np.array(exists, dtype=bool)
    bunch = dict(
        data=captions,
        captions=captions,
        urls=urls,
        image_paths=image_paths,
        image_exists=image_exists,
        filename=str(tsv_path),
        DESCR=DESCR,
    )
    return _finish(bunch, return_X_y, y_key="image_paths")
