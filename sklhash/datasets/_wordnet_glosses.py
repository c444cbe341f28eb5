"""WordNet glosses: a many-class semantic retrieval set with a deep real hierarchy.

Built offline from WordNet 3.0 in a few seconds: classes are noun synsets that
do not overlap, items are their hyponyms, each item is the text
``"lemma: definition"``. With a sentence encoder (``SentenceEncoder``, the
``text`` extra) it stands in for CIFAR-100/ImageNet-style class hierarchies
that cannot be downloaded here.
"""

import functools

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ..similarity import LabelHierarchy, load_wordnet, synset

_DESCR = """\
WordNet glosses
---------------

Items are WordNet 3.0 noun synsets, each as the text "lemma: definition"
(first lemma, underscores as spaces). The classes are {n_classes} noun synsets
drawn at random (random_state={random_state}) among those with between
{min_hyponyms} and {max_hyponyms} transitive hyponyms (instance hyponyms not
counted), no class being a hyponym of another and no two classes sharing a
hyponym; the items of a class are up to {max_per_class} of its hyponyms, drawn
at random. `hierarchy` is the WordNet hypernym tree over the classes
(LabelHierarchy.from_wordnet, leaves = the integer targets), so semantic
(hierarchical) retrieval metrics such as mAHP can be computed.

n_samples: {n_samples}; classes: {n_classes}; hierarchy height: {height}.
WordNet 3.0 Copyright 2006 by Princeton University (see
sklhash/datasets/data/WORDNET_LICENSE.txt).
"""


@functools.lru_cache(maxsize=4)
def _noun_graph(wn):
    """``{offset: tuple of hyponym offsets}`` for every noun synset."""
    path = wn.abspath("data.noun")
    with path.open() as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"WordNet file {path} is not UTF-8 text ({exc})") from exc
    children = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith(" "):  # the licence header
            continue
        try:
            offset, kids = _parse_data_line(line)
        except (ValueError, IndexError) as exc:
            # The lines are read by position: a damaged one would otherwise
            # stop with an IndexError, or shift every field after it.
            raise ValueError(
                f"WordNet file {path}, line {lineno}: not a data.noun line "
                f"({exc}): {line[:60]!r}"
            ) from exc
        children[offset] = kids
    for offset, kids in children.items():
        for kid in kids:
            if kid not in children:
                raise ValueError(
                    f"WordNet file {path}: synset {offset:08d} points to hyponym "
                    f"{kid:08d}, which is not in the file (damaged or truncated)"
                )
    return children


def _parse_data_line(line):
    """``(offset, hyponym offsets)`` of one line of data.noun (wndb(5WN))."""
    fields = line.split(" | ", 1)[0].split()
    i = 4 + 2 * int(fields[3], 16)
    n_pointers = int(fields[i])
    if len(fields) < i + 1 + 4 * n_pointers:
        raise ValueError(f"{n_pointers} pointers announced, fewer present")
    i += 1
    kids = []
    for _ in range(n_pointers):
        symbol, offset, pos = fields[i], fields[i + 1], fields[i + 2]
        if symbol == "~" and pos == "n":
            kids.append(int(offset))
        i += 4
    return int(fields[0]), tuple(kids)


@functools.lru_cache(maxsize=8)
def _candidates(wn, min_hyponyms, max_hyponyms):
    """Synsets with ``min..max`` transitive hyponyms, with those hyponyms."""
    children = _noun_graph(wn)
    cap = max_hyponyms + 1
    desc = {}  # offset -> frozenset of descendants, or None when more than cap
    for root in children:
        if root in desc:
            continue
        stack = [root]
        while stack:
            node = stack[-1]
            pending = [c for c in children[node] if c not in desc]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if node in desc:
                continue
            acc = set()
            for c in children[node]:
                if desc[c] is None:
                    acc = None
                    break
                acc.add(c)
                acc |= desc[c]
                if len(acc) > cap:
                    acc = None
                    break
            desc[node] = None if acc is None else frozenset(acc)
    return [
        (offset, tuple(sorted(d)))
        for offset, d in sorted(desc.items())
        if d is not None and min_hyponyms <= len(d) <= max_hyponyms
    ]


def _text(s):
    return f"{s.lemmas()[0].name().replace('_', ' ')}: {s.definition()}"


def load_wordnet_glosses(
    n_classes=80,
    max_per_class=80,
    *,
    min_hyponyms=50,
    max_hyponyms=300,
    random_state=0,
    return_X_y=False,
    wordnet=None,
):
    """Load a semantic text-retrieval set built from WordNet glosses.

    Classes are noun synsets that do not overlap (none is a hyponym of
    another, none share a hyponym), each with ``min_hyponyms`` to
    ``max_hyponyms`` transitive hyponyms; the items of a class are up to
    ``max_per_class`` of those hyponyms, each given as ``"lemma: definition"``.
    Needs WordNet 3.0 (see :func:`sklhash.similarity.load_wordnet`).

    Parameters
    ----------
    n_classes : int, default=80
        Number of classes.
    max_per_class : int, default=80
        Most items drawn from one class.
    min_hyponyms, max_hyponyms : int, default=50, 300
        Bounds on a class's number of transitive hyponyms (instance hyponyms,
        i.e. named individuals, are not counted nor used).
    random_state : int, RandomState instance or None, default=0
        Draws the classes and the items; a different seed gives different classes.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    wordnet : WordNet reader or path-like, default=None
        The WordNet to use.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        The dataset: ``data``: list of str (the texts); ``target``: int64 array;
        ``target_names``: array of the class synset names; ``synsets``: the
        synset name of every item; ``hierarchy``: :class:`LabelHierarchy`
        whose leaves are the targets 0..n_classes-1; ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True
        The texts (list of str) and the targets (int64 array).

    See Also
    --------
    sklhash.similarity.SentenceEncoder : Turn the texts into 384-d features.

    Examples
    --------
    >>> from sklhash.datasets import load_wordnet_glosses
    >>> ds = load_wordnet_glosses(n_classes=5, max_per_class=10)
    >>> len(ds.data), ds.target[:3], ds.hierarchy.classes
    (50, array([0, 0, 0]), [0, 1, 2, 3, 4])
    >>> ds.data[0]  # doctest: +SKIP
    'Cheshire cheese: a hard English cheese ...'
    """
    for name, value, low in (
        ("n_classes", n_classes, 1),
        ("max_per_class", max_per_class, 1),
        ("min_hyponyms", min_hyponyms, 1),
        ("max_hyponyms", max_hyponyms, 1),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or value < low
        ):
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    if min_hyponyms > max_hyponyms:
        raise ValueError(
            f"min_hyponyms={min_hyponyms} is larger than max_hyponyms={max_hyponyms}."
        )
    rng = check_random_state(random_state)
    wn = (
        load_wordnet(wordnet)
        if wordnet is None or not hasattr(wordnet, "synset")
        else wordnet
    )

    candidates = _candidates(wn, int(min_hyponyms), int(max_hyponyms))
    chosen, used = [], set()
    for k in rng.permutation(len(candidates)):
        offset, hyponyms = candidates[k]
        if offset in used or used.intersection(hyponyms):
            continue
        chosen.append((offset, hyponyms))
        used.add(offset)
        used.update(hyponyms)
        if len(chosen) == n_classes:
            break
    if len(chosen) < n_classes:
        raise ValueError(
            f"n_classes={n_classes} is too many: only {len(chosen)} non-overlapping "
            f"classes with {min_hyponyms}..{max_hyponyms} hyponyms were found."
        )

    texts, target, item_synsets = [], [], []
    for label, (_, hyponyms) in enumerate(chosen):
        take = min(max_per_class, len(hyponyms))
        picked = sorted(rng.choice(len(hyponyms), size=take, replace=False))
        for j in picked:
            s = synset(f"n{hyponyms[j]:08d}", wn)
            texts.append(_text(s))
            target.append(label)
            item_synsets.append(s.name())
    class_synsets = [synset(f"n{offset:08d}", wn).name() for offset, _ in chosen]
    hierarchy = LabelHierarchy.from_wordnet(dict(enumerate(class_synsets)), wordnet=wn)
    target = np.asarray(target, dtype=np.int64)
    if return_X_y:
        return texts, target
    return Bunch(
        data=texts,
        target=target,
        target_names=np.asarray(class_synsets),
        synsets=item_synsets,
        hierarchy=hierarchy,
        DESCR=_DESCR.format(
            n_classes=n_classes,
            random_state=random_state,
            min_hyponyms=min_hyponyms,
            max_hyponyms=max_hyponyms,
            max_per_class=max_per_class,
            n_samples=len(texts),
            height=hierarchy.max_height,
        ),
    )
