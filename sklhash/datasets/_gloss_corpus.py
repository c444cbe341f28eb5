"""Sentence embeddings of every WordNet gloss: a real, label-free embedding corpus.

Every synset of WordNet 3.0 (117,659 of them: nouns, verbs, adjectives and
adverbs) becomes the text ``"lemma: definition"`` and is embedded with a
sentence encoder (by default the offline all-MiniLM-L6-v2 of
:class:`~sklhash.similarity.SentenceEncoder`, 384-d, unit length). This is
the kind of data vector engines binarise, and the corpus on which sklhash's
embedding binarisers are measured (``docs/embeddings.md``).

The embeddings are cached on disk after the first build (``.npy`` files and
JSON, read with ``allow_pickle=False``: nothing from disk is executed). The
build writes one file per chunk as it goes, so an interrupted build resumes
where it stopped, and the finished corpus replaces nothing until it is
complete.
"""

import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np
from sklearn.utils import Bunch

from ._base import get_data_home

__all__ = ["load_wordnet_gloss_embeddings"]

_SUBDIR = "wordnet_gloss_embeddings"
_POS = ("n", "v", "a", "s", "r")

_DESCR = """\
WordNet gloss embeddings
------------------------

One item per WordNet 3.0 synset{pos_note}, in the order (part of speech
n, v, a, s, r; then offset): the text "lemma: definition" (first lemma,
underscores as spaces) embedded with {encoder}. No labels are needed to use
it; `target` is the synset's lexicographer file (e.g. noun.animal, 45 in
all), a coarse topic label.

n_samples: {n}; dimension: {dim}. Cache: {cache}.
WordNet 3.0 Copyright 2006 by Princeton University (see
sklhash/datasets/data/WORDNET_LICENSE.txt).
"""


def _gloss_text(s):
    return f"{s.lemmas()[0].name().replace('_', ' ')}: {s.definition()}"


def _select_synsets(wn, pos, synsets):
    """Synsets in a fixed order: by part of speech (n, v, a, s, r), then offset."""
    if synsets is not None:
        from ..similarity import synset as resolve

        if isinstance(synsets, str):
            raise ValueError(
                "synsets must be a list of synset names or wnids, not one string: "
                f"got {synsets!r}."
            )
        chosen = {}
        for spec in synsets:
            s = resolve(spec, wn)
            chosen[s.name()] = s
        out = list(chosen.values())
        if not out:
            raise ValueError("synsets is empty: give at least one synset.")
    else:
        if pos is None:
            pos = _POS
        elif isinstance(pos, str):
            pos = tuple(pos)
        bad = [p for p in pos if p not in _POS]
        if bad or not pos:
            raise ValueError(
                f"pos must be letters among {''.join(_POS)!r}, got {pos!r}."
            )
        wanted = set(pos)
        out = [s for s in wn.all_synsets() if s.pos() in wanted]
    order = {p: i for i, p in enumerate(_POS)}
    out.sort(key=lambda s: (order[s.pos()], s.offset()))
    return out


def _progress(total, verbose, desc):
    """A progress bar (tqdm when installed, else one updating stderr line)."""
    if not verbose:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _LineBar(total, desc)
    return tqdm(total=total, desc=desc, unit="text")


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


class _LineBar:
    def __init__(self, total, desc):
        self.total, self.desc, self.n, self.t0 = total, desc, 0, time.monotonic()

    def update(self, n):
        self.n += n
        rate = self.n / max(time.monotonic() - self.t0, 1e-9)
        print(
            f"\r{self.desc}: {self.n}/{self.total} ({rate:.0f} texts/s)",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def close(self):
        print(file=sys.stderr, flush=True)


def _check_finite(X):
    if not np.all(np.isfinite(X)):
        raise ValueError("the encoder returned non-finite embeddings.")


def _key(encoder, texts):
    h = hashlib.sha256(repr(encoder).encode())
    for t in texts:
        h.update(t.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _encode_chunked(encoder, texts, work, chunk_size, verbose):
    """Encode ``texts`` chunk by chunk into ``work/part_*.npy`` (resumable)."""
    work.mkdir(parents=True, exist_ok=True)
    n_chunks = -(-len(texts) // chunk_size)
    bar = _progress(len(texts), verbose, "WordNet glosses")
    parts = []
    try:
        for c in range(n_chunks):
            lo, hi = c * chunk_size, min((c + 1) * chunk_size, len(texts))
            part = work / f"part_{c:05d}.npy"
            arr = None
            if part.is_file():
                try:
                    arr = np.load(part, allow_pickle=False)
                except (ValueError, OSError):
                    arr = None  # a chunk cut short by an interruption: redo it
                if arr is not None and arr.shape[0] != hi - lo:
                    arr = None
            if arr is None:
                arr = np.asarray(encoder.encode(texts[lo:hi]), dtype=np.float32)
                if arr.ndim != 2 or arr.shape[0] != hi - lo:
                    raise ValueError(
                        f"encoder returned shape {arr.shape} for {hi - lo} texts."
                    )
                tmp = work / f".tmp_{c:05d}.npy"
                np.save(tmp, arr, allow_pickle=False)
                os.replace(tmp, part)
            parts.append(arr)
            bar.update(hi - lo)
    finally:
        bar.close()
    return np.concatenate(parts, axis=0) if parts else np.zeros((0, 0), np.float32)


def load_wordnet_gloss_embeddings(
    *,
    pos=None,
    synsets=None,
    encoder=None,
    data_home=None,
    cache=True,
    chunk_size=2048,
    verbose=True,
    wordnet=None,
    return_X_y=False,
):
    """Load (building once) the sentence embeddings of every WordNet gloss.

    Each synset becomes ``"lemma: definition"`` and is embedded with
    ``encoder``. The first call encodes all 117,659 glosses (measured: 63
    minutes with the default MiniLM on one thread of a heavily loaded
    2-core machine, about 3 at ~700 texts/s on two free cores; see
    ``docs/embeddings.md``) and caches them under
    ``<data_home>/wordnet_gloss_embeddings/``; later calls re-read WordNet to
    rebuild the texts (their hash is the cache key) and load the ``.npy``:
    31 s on the same loaded machine, nearly all of it nltk reading WordNet.
    The cache is keyed by the encoder's ``repr`` and the exact texts, so a
    different WordNet or encoder never reads a stale file.
    An interrupted build resumes from its last finished chunk.

    Parameters
    ----------
    pos : str or sequence of str, default=None
        Parts of speech to keep, among ``"n"`` (noun), ``"v"``, ``"a"``
        (adjective), ``"s"`` (satellite adjective), ``"r"`` (adverb);
        ``None`` keeps all.
    synsets : sequence of str, default=None
        Only these synsets (names such as ``"dog.n.01"`` or wnids) — a small
        corpus, e.g. for tests. Overrides ``pos``.
    encoder : object with ``encode(list of str) -> ndarray``, default=None
        The sentence encoder; ``None`` uses
        :class:`~sklhash.similarity.SentenceEncoder` (all-MiniLM-L6-v2, unit
        length; needs the ``text`` extra).
    data_home : path-like, default=None
        Cache folder root (see :func:`get_data_home`).
    cache : bool, default=True
        Read and write the cache. ``False`` encodes in memory only.
    chunk_size : int, default=2048
        Texts encoded (and checkpointed) at a time.
    verbose : bool, default=True
        Show a progress bar while encoding.
    wordnet : WordNet reader or path-like, default=None
        The WordNet to read (see :func:`sklhash.similarity.load_wordnet`).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: float32 array (n, dim), the embeddings; ``texts``: list of
        str; ``synsets``: array of synset names; ``pos``: array of
        part-of-speech letters; ``target``: int64 lexicographer-file index;
        ``target_names``: array of lexicographer file names
        (``"noun.animal"``...); ``cache_path``: the ``.npy`` file or None;
        ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True
        The embeddings (float32 array) and the lexicographer-file targets.

    See Also
    --------
    sklhash.EmbeddingHasher : Binary codes for such embeddings.
    sklhash.metrics.recall_at_k : Label-free neighbour recall.

    Examples
    --------
    >>> from sklhash.datasets import load_wordnet_gloss_embeddings
    >>> ds = load_wordnet_gloss_embeddings()  # doctest: +SKIP
    >>> ds.data.shape  # doctest: +SKIP
    (117659, 384)
    >>> small = load_wordnet_gloss_embeddings(synsets=["dog.n.01", "cat.n.01"],
    ...                                       cache=False)  # doctest: +SKIP
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}.")
    from ..similarity import load_wordnet

    wn = (
        load_wordnet(wordnet)
        if wordnet is None or not hasattr(wordnet, "synset")
        else wordnet
    )
    chosen = _select_synsets(wn, pos, synsets)
    texts = [_gloss_text(s) for s in chosen]
    if encoder is None:
        from ..similarity import SentenceEncoder

        encoder = SentenceEncoder()
    if not callable(getattr(encoder, "encode", None)):
        raise ValueError(
            f"encoder must have an encode(list of str) method, got {encoder!r}."
        )

    path = None
    if cache:
        root = get_data_home(data_home) / _SUBDIR
        key = _key(encoder, texts)
        path = root / f"{key}.npy"
        if path.is_file():
            X = np.load(path, allow_pickle=False)
            if X.shape[0] != len(texts):  # damaged: rebuild
                X = None
        else:
            X = None
        if X is None:
            work = root / f".partial-{key}"
            X = _encode_chunked(encoder, texts, work, int(chunk_size), verbose)
            _check_finite(X)  # never cache a broken corpus
            tmp = root / f".tmp-{key}.npy"
            np.save(tmp, X, allow_pickle=False)
            os.replace(tmp, path)
            meta = {"n": len(texts), "encoder": repr(encoder)}
            (root / f"{key}.json").write_text(json.dumps(meta))
            shutil.rmtree(work, ignore_errors=True)
    else:
        X = np.asarray(encoder.encode(texts), dtype=np.float32)
    _check_finite(X)

    lexnames = sorted({s.lexname() for s in chosen})
    lex_index = {name: i for i, name in enumerate(lexnames)}
    target = np.asarray([lex_index[s.lexname()] for s in chosen], dtype=np.int64)
    if return_X_y:
        return X, target
    pos_kept = "".join(sorted({s.pos() for s in chosen}, key=_POS.index))
    return Bunch(
        data=X,
        texts=texts,
        synsets=np.asarray([s.name() for s in chosen]),
        pos=np.asarray([s.pos() for s in chosen]),
        target=target,
        target_names=np.asarray(lexnames),
        cache_path=path,
        DESCR=_DESCR.format(
            pos_note="" if pos_kept == "".join(_POS) else f" (pos {pos_kept})",
            encoder=repr(encoder),
            n=X.shape[0],
            dim=X.shape[1] if X.ndim == 2 else 0,
            cache=str(path) if path else "none",
        ),
    )
