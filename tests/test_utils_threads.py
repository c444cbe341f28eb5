"""Scoped thread limits (sklhash.utils._threads) and their use by the CLI."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from sklhash.utils._threads import default_threads, limit_threads, resolve_threads


def _blas_threads():
    return {pool["num_threads"] for pool in threadpool_info()}


def test_limit_threads_is_scoped():
    torch = pytest.importorskip("torch")
    before_torch = torch.get_num_threads()
    before_blas = _blas_threads()
    with limit_threads(1) as n:
        assert n == 1
        assert torch.get_num_threads() == 1
        assert _blas_threads() <= {1}
    assert torch.get_num_threads() == before_torch
    assert _blas_threads() == before_blas


def test_limit_threads_restores_after_error():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with pytest.raises(KeyboardInterrupt), limit_threads(1):
        raise KeyboardInterrupt
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_threads_rejected(bad):
    with pytest.raises(ValueError, match=f"threads={bad!r}"):
        resolve_threads(bad)


def test_defaults():
    assert 1 <= default_threads() <= 8
    assert resolve_threads(None) == default_threads()
    assert resolve_threads(-1) >= default_threads()


def test_cli_fit_runs_under_the_limit(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from sklhash.cli import main
    from sklhash.hashers.classic import LSHHasher

    seen = []
    real_fit = LSHHasher.fit

    def fit(self, X, y=None):
        seen.append((torch.get_num_threads(), _blas_threads()))
        return real_fit(self, X, y)

    monkeypatch.setattr(LSHHasher, "fit", fit)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        np.save(tmp_path / "X.npy", np.random.default_rng(0).random((50, 8)))
        argv = ["fit", "--method", "lsh", "--bits", "8", "--X",
                str(tmp_path / "X.npy"), "--threads", "1", "--out", str(tmp_path / "m")]
        assert main(argv) == 0
        assert seen == [(1, seen[0][1])] and seen[0][1] <= {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
