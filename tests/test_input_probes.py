"""Probes of bad input and silent wrong answers found while integrating."""

import numpy as np
import pytest

from sklhash import ITQHasher, LSHHasher


@pytest.mark.parametrize("cls", [ITQHasher, LSHHasher])
def test_non_finite_decision_values_are_an_error(cls):
    rng = np.random.RandomState(0)
    est = cls(bits=4, random_state=0).fit(rng.normal(size=(50, 6)))
    X = rng.normal(size=(3, 6))
    X[1, 2] = 1e308  # finite input whose projection overflows float32
    with np.errstate(over="ignore"), pytest.raises(
        ValueError, match=rf"{cls.__name__} produced \d+ non-finite"
    ):
        est.transform(X)
    # Rows that are fine still encode.
    assert est.transform(X[[0, 2]]).shape == (2, 1)


def test_index_still_searches_after_being_pickled():
    import pickle

    from sklhash.neighbors import HammingIndex

    rng = np.random.RandomState(0)
    codes = rng.randint(0, 256, size=(40, 2)).astype(np.uint8)
    index = HammingIndex().fit(codes)
    before = index.kneighbors(codes[:3], 5)
    clone = pickle.loads(pickle.dumps(index))
    for got in (index.kneighbors(codes[:3], 5), clone.kneighbors(codes[:3], 5)):
        np.testing.assert_array_equal(got[0], before[0])
        np.testing.assert_array_equal(got[1], before[1])


def test_hierarchy_parents_given_as_a_string_are_refused():
    from sklhash.similarity import LabelHierarchy

    with pytest.raises(ValueError, match=r"parents of '3' must be a sequence"):
        LabelHierarchy({"3": "odd", "odd": []})
    assert LabelHierarchy({"3": ["odd"], "odd": []}).parents("3") == ["odd"]
