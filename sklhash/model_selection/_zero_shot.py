"""Zero-shot (unseen-class) retrieval splits, rebuilt from the labels alone.

In zero-shot hashing a hasher is trained on the items of some classes (the
*seen* classes) and evaluated on queries from classes it never saw (the
*unseen* ones). Two protocols recur in the literature:

* a fixed share of the classes held out -- 25% is common (Yang et al. 2016
  hold out 2 of CIFAR-10's 10 classes; larger label sets hold out a quarter);
* leave-one-class-out: every class is the unseen one in turn (Yang et al.
  2016, on CIFAR-10 and ImageNet subsets).

Queries are a fixed number of items of each unseen class; the database is the
rest of the unseen items (``database="unseen"``), or those plus every seen
item (``database="all"``), the harder "generalised" setting in which a query
must not be pulled towards the classes training knew.

References
----------
.. [1] Y. Yang, Y. Luo, W. Chen, F. Shen, J. Shao and H. T. Shen,
   "Zero-shot hashing via transferring supervised knowledge", ACM
   Multimedia 2016.
.. [2] J. Arponen and T. Bishop, "Learning to hash with semantic similarity
   metrics and empirical KL divergence", 2020. arXiv:2005.04917.
"""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ..utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = ["ZeroShotSplit", "leave_one_class_out", "unseen_class_split"]


@dataclass(frozen=True)
class ZeroShotSplit:
    """Row indices of one zero-shot split (a frozen dataclass).

    Parameters
    ----------
    train : ndarray of int
        Every item of a seen class, in their original order.
    query : ndarray of int
        ``n_queries_per_class`` items of each unseen class.
    database : ndarray of int
        The unseen items not used as queries (and, with ``database="all"``,
        the seen items too), in their original order.
    seen_classes : ndarray
        Sorted seen class labels.
    unseen_classes : ndarray
        Sorted unseen class labels.
    """

    train: np.ndarray
    query: np.ndarray
    database: np.ndarray
    seen_classes: np.ndarray
    unseen_classes: np.ndarray


def _check_labels(y):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"y must be a 1-d array of class labels, got shape {y.shape}; "
            "zero-shot splits need one class per item."
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity; labels must be finite.")
    if y.dtype.kind == "O" and any(v is None for v in y):
        raise ValueError("y contains None; every item needs a class label.")
    return y


def _split(y, unseen, n_queries_per_class, database, rng):
    classes = np.unique(y)
    unseen = np.sort(np.asarray(unseen))
    seen = np.setdiff1d(classes, unseen)
    is_unseen = np.isin(y, unseen)
    query = []
    for c in unseen:
        rows = np.flatnonzero(y == c)
        if len(rows) <= n_queries_per_class:
            raise ValueError(
                f"unseen class {c!r} has {len(rows)} items; "
                f"n_queries_per_class={n_queries_per_class} leaves none for the "
                "database. Lower n_queries_per_class."
            )
        query.append(rng.choice(rows, n_queries_per_class, replace=False))
    query = np.sort(np.concatenate(query)) if query else np.zeros(0, dtype=np.intp)
    in_db = is_unseen.copy()
    in_db[query] = False
    if database == "all":
        in_db |= ~is_unseen
    return ZeroShotSplit(
        train=np.flatnonzero(~is_unseen),
        query=query,
        database=np.flatnonzero(in_db),
        seen_classes=seen,
        unseen_classes=unseen,
    )


_COMMON = {
    "y": ["array-like"],
    "n_queries_per_class": [Interval(Integral, 1, None, closed="left")],
    "database": [StrOptions({"unseen", "all"})],
    "random_state": ["random_state"],
}


# dict(), not {**...}: Sphinx's source parser fails on dict unpacking.
_SPLIT = dict(_COMMON, unseen_fraction=[Interval(Real, 0, 1, closed="neither")])


@validate_params(_SPLIT, prefer_skip_nested_validation=True)
def unseen_class_split(
    y, *, unseen_fraction=0.25, n_queries_per_class=100, database="unseen",
    random_state=None,
):
    """Hold out a share of the classes as unseen.

    ``round(unseen_fraction * n_classes)`` classes, drawn at random, become
    unseen; the hasher trains on every item of the others.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class label of every item.
    unseen_fraction : float, default=0.25
        Share of the classes held out, in (0, 1).
    n_queries_per_class : int, default=100
        Queries drawn from each unseen class.
    database : {"unseen", "all"}, default="unseen"
        ``"unseen"``: the unseen items that are not queries; ``"all"``: those
        plus every seen item.
    random_state : int, RandomState instance or None, default=None
        Draws the unseen classes and the queries.

    Returns
    -------
    ZeroShotSplit
        ``train``, ``query`` and ``database`` row indices and the class sets.

    Raises
    ------
    ValueError
        When the fraction leaves no seen or no unseen class (the message
        names the class count), or an unseen class has too few items.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.model_selection import unseen_class_split
    >>> y = np.repeat(np.arange(8), 10)
    >>> split = unseen_class_split(y, n_queries_per_class=3, random_state=0)
    >>> len(split.unseen_classes), len(split.query), len(split.database)
    (2, 6, 14)
    >>> bool(np.isin(y[split.train], split.unseen_classes).any())
    False
    """
    y = _check_labels(y)
    classes = np.unique(y)
    n_unseen = int(round(unseen_fraction * len(classes)))
    if not 1 <= n_unseen < len(classes):
        raise ValueError(
            f"unseen_fraction={unseen_fraction} of {len(classes)} classes "
            f"({classes.tolist()[:10]}{'...' if len(classes) > 10 else ''}) "
            f"makes {n_unseen} unseen class(es): need at least one seen and one "
            "unseen class."
        )
    rng = check_random_state(random_state)
    unseen = rng.choice(classes, n_unseen, replace=False)
    return _split(y, unseen, n_queries_per_class, database, rng)


@validate_params(_COMMON, prefer_skip_nested_validation=True)
def leave_one_class_out(
    y, *, n_queries_per_class=100, database="unseen", random_state=None
):
    """Yield one zero-shot split per class, that class being unseen.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class label of every item (at least two classes).
    n_queries_per_class : int, default=100
        Queries drawn from the held-out class.
    database : {"unseen", "all"}, default="unseen"
        See :func:`unseen_class_split`.
    random_state : int, RandomState instance or None, default=None
        Draws the queries; the same seed gives the same splits.

    Returns
    -------
    splits : generator of ZeroShotSplit
        One per class, in sorted class order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklhash.model_selection import leave_one_class_out
    >>> y = np.repeat([0, 1, 2], 5)
    >>> [s.unseen_classes.tolist() for s in leave_one_class_out(
    ...     y, n_queries_per_class=2, random_state=0)]
    [[0], [1], [2]]
    """
    # Checked here, not inside the generator, so that bad input fails at the
    # call rather than at the first iteration.
    y = _check_labels(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(
            f"leave-one-class-out needs at least two classes, y has "
            f"{classes.tolist()}."
        )
    classes, counts = np.unique(y, return_counts=True)
    small = classes[counts <= n_queries_per_class]
    if len(small):
        raise ValueError(
            f"classes {small.tolist()} have at most n_queries_per_class="
            f"{n_queries_per_class} items, leaving none for the database when "
            "they are unseen. Lower n_queries_per_class."
        )
    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(classes))
    return (
        _split(y, [c], n_queries_per_class, database, np.random.RandomState(s))
        for c, s in zip(classes, seeds, strict=True)
    )
