"""Zero-shot split protocols: no leak, full coverage, seeded, clear errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklhash.model_selection import leave_one_class_out, unseen_class_split


@st.composite
def labelled(draw):
    n_classes = draw(st.integers(2, 12))
    sizes = draw(st.lists(st.integers(3, 9), min_size=n_classes, max_size=n_classes))
    y = np.repeat(np.arange(n_classes) * 7 - 3, sizes)  # arbitrary label values
    perm = np.random.default_rng(draw(st.integers(0, 1000))).permutation(len(y))
    return y[perm]


def check_split(y, s, database):
    # No unseen class leaks into training; every class on exactly one side.
    assert not np.isin(y[s.train], s.unseen_classes).any()
    assert set(s.seen_classes) | set(s.unseen_classes) == set(np.unique(y))
    assert not set(s.seen_classes) & set(s.unseen_classes)
    assert set(np.unique(y[s.train])) == set(s.seen_classes)
    # Queries are unseen items, disjoint from the database.
    assert np.isin(y[s.query], s.unseen_classes).all()
    assert not set(s.query) & set(s.database)
    unseen_rows = np.flatnonzero(np.isin(y, s.unseen_classes))
    assert set(s.query) | set(np.intersect1d(s.database, unseen_rows)) == set(
        unseen_rows
    )
    seen_in_db = np.isin(y[s.database], s.seen_classes)
    if database == "unseen":
        assert not seen_in_db.any()
    else:
        assert set(s.database[seen_in_db]) == set(s.train)
    for part in (s.train, s.query, s.database):
        assert np.all(np.diff(part) > 0) or len(part) <= 1  # sorted, unique


@settings(max_examples=40, deadline=None)
@given(labelled(), st.sampled_from([0.25, 0.5, 0.3]),
       st.sampled_from(["unseen", "all"]), st.integers(0, 2**16))
def test_unseen_class_split_properties(y, fraction, database, seed):
    n_classes = len(np.unique(y))
    n_unseen = int(round(fraction * n_classes))
    if not 1 <= n_unseen < n_classes:
        with pytest.raises(ValueError, match="need at least one seen and one unseen"):
            unseen_class_split(y, unseen_fraction=fraction, n_queries_per_class=2,
                               random_state=seed)
        return
    s = unseen_class_split(y, unseen_fraction=fraction, n_queries_per_class=2,
                           database=database, random_state=seed)
    assert len(s.unseen_classes) == n_unseen
    assert len(s.query) == 2 * n_unseen
    check_split(y, s, database)
    again = unseen_class_split(y, unseen_fraction=fraction, n_queries_per_class=2,
                               database=database, random_state=seed)
    for a, b in zip(vars(s).values(), vars(again).values(), strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=25, deadline=None)
@given(labelled(), st.sampled_from(["unseen", "all"]), st.integers(0, 2**16))
def test_leave_one_class_out_properties(y, database, seed):
    splits = list(leave_one_class_out(y, n_queries_per_class=2, database=database,
                                      random_state=seed))
    assert [s.unseen_classes.tolist() for s in splits] == [
        [c] for c in np.unique(y).tolist()
    ]
    for s in splits:
        check_split(y, s, database)
    again = list(leave_one_class_out(y, n_queries_per_class=2, database=database,
                                     random_state=seed))
    for s, t in zip(splits, again, strict=True):
        np.testing.assert_array_equal(s.query, t.query)


def test_seeds_change_the_draw():
    y = np.repeat(np.arange(20), 10)
    draws = {tuple(unseen_class_split(y, random_state=s, n_queries_per_class=3)
                   .unseen_classes) for s in range(6)}
    assert len(draws) > 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"unseen_fraction": 0.01}, r"makes 0 unseen class"),
        ({"unseen_fraction": 0.99}, r"makes 4 unseen class"),
        ({"unseen_fraction": 1.0}, r"unseen_fraction"),
        ({"n_queries_per_class": 10}, r"has 10 items; n_queries_per_class=10"),
        ({"database": "seen"}, r"database"),
    ],
)
def test_unseen_class_split_bad_input(kwargs, match):
    y = np.repeat(np.arange(4), 10)
    with pytest.raises(ValueError, match=match):
        unseen_class_split(y, **{"n_queries_per_class": 2, "random_state": 0, **kwargs})


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match="1-d array of class labels"):
        unseen_class_split(np.zeros((6, 2)))
    with pytest.raises(ValueError, match="NaN"):
        unseen_class_split(np.array([0.0, 1.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="at least two classes"):
        leave_one_class_out(np.zeros(10))
    with pytest.raises(ValueError, match=r"classes \[2\] have at most"):
        leave_one_class_out(np.repeat([0, 1, 2], [5, 5, 2]), n_queries_per_class=2)
