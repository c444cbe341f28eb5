"""
Tuning on a Dask cluster: GridSearchCV under joblib's dask backend
=================================================================

``GridSearchCV`` parallelises its fits through joblib; inside
``joblib.parallel_backend("dask")`` they run on the workers of the active
``distributed.Client``. sklhash's pipelines and retrieval scorers pickle, so
nothing else changes, and the search picks the same parameters as in one
process. Deep hashers train on the workers with the threads they are given
(``threads_per_worker``).

Worker processes re-import this script, hence the ``__main__`` guard.
"""

# %%
import time

import joblib
import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklhash import ITQHasher, LSHHasher
from sklhash.metrics import map_scorer


def main():
    X, y = load_digits(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("hash", ITQHasher(random_state=0))])
    grid = [
        {"hash": [ITQHasher(random_state=0)], "hash__bits": [16, 32]},
        {"hash": [LSHHasher(random_state=0)], "hash__bits": [16, 32, 64]},
    ]

    def search():
        # mAP@100 by leave-one-out retrieval inside each held-out fold.
        return GridSearchCV(
            pipe, grid, scoring=map_scorer(k=100), cv=StratifiedKFold(3)
        )

    start = time.perf_counter()
    local = search().fit(X, y)
    print(f"one process: {time.perf_counter() - start:.1f} s")

    # %%
    # The same search on a cluster of two worker processes.
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster),
    ):
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            remote = search().fit(X, y)
        print(f"dask backend, 2 workers: {time.perf_counter() - start:.1f} s")

    # %%
    for params, score in zip(
        remote.cv_results_["params"],
        remote.cv_results_["mean_test_score"],
        strict=True,
    ):
        name = type(params["hash"]).__name__
        print(f"{name:10s} {params['hash__bits']:3d} bits: mAP@100 = {score:.3f}")
    best = remote.best_params_
    print(f"best: {type(best['hash']).__name__}, {best['hash__bits']} bits")
    same = repr(remote.best_params_) == repr(local.best_params_) and np.allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    print("same choice and scores as in one process:", same)
    assert same


if __name__ == "__main__":
    main()
