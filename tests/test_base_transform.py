"""transform refuses to turn non-finite decision values into bits."""

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
