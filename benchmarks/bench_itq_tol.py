"""ITQ's iterations on Fashion-MNIST: where to stop (ITQHasher's n_iter / tol).

60,000 training images = database, 1,000 seeded test images = queries, raw
pixels; PCA once (64 components, 32 bits use the first 32), then for each
code length and seed the ITQ iterations of ``itq_rotation`` run to a cap,
recording the quantisation error, mAP@1000 at checkpoints and at the
iteration where each ``tol`` would stop, and the time spent. One JSON line
per (bits, seed).

Run: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_itq_tol.py [CAP]
(CAP = 1000 iterations by default; about 20 minutes on a loaded 2-core machine).
"""

import json
import sys
import time

import numpy as np
from scipy.linalg import orthogonal_procrustes
from sklearn.utils import check_random_state

from sklhash.codes import pack_codes
from sklhash.datasets import load_fashion_mnist
from sklhash.hashers.classic import _pca, _random_rotation
from sklhash.metrics import mean_average_precision

TOLS = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6]


def _binarize(P):
    return np.where(P > 0, 1.0, -1.0)


def one_run(V, Vq, y_db, y_q, bits, seed, cap, checkpoints):
    """The iterations of itq_rotation, with everything recorded."""
    rng = check_random_state(seed)
    R = _random_rotation(bits, rng)
    P = V @ R
    errors = [np.sum((_binarize(P) - P) ** 2) / len(V)]
    rotations, seconds = {0: R}, [0.0]
    start = time.perf_counter()
    for it in range(1, cap + 1):
        # The same two steps as sklhash.hashers.classic.itq_rotation.
        R, _ = orthogonal_procrustes(V, _binarize(P))
        P = V @ R
        errors.append(np.sum((_binarize(P) - P) ** 2) / len(V))
        seconds.append(time.perf_counter() - start)
        rotations[it] = R
    errors = np.asarray(errors)
    decrease = (errors[:-1] - errors[1:]) / errors[:-1]
    stops = {}
    for tol in TOLS:
        hit = np.flatnonzero(decrease <= tol)
        stops[str(tol)] = int(hit[0] + 1) if hit.size else cap

    def score(it):
        R = rotations[it]
        return mean_average_precision(
            pack_codes(Vq @ R), pack_codes(V @ R), y_q, y_db, k=1000
        )

    at = sorted(set(checkpoints) | set(stops.values()))
    return {
        "bits": bits,
        "seed": seed,
        "increases": int((np.diff(errors) > 0).sum()),
        "errors": {it: round(float(errors[it]), 5) for it in checkpoints},
        "map1000": {it: round(score(it), 4) for it in at},
        "seconds": {it: round(seconds[it], 2) for it in checkpoints},
        "stop_iter_by_tol": stops,
    }


def main():
    cap = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    X, y = load_fashion_mnist("train", return_X_y=True)
    X_test, y_test = load_fashion_mnist("test", return_X_y=True)
    q = np.random.default_rng(0).choice(len(X_test), 1000, replace=False)
    Xq, yq = X_test[q], y_test[q]
    start = time.perf_counter()
    mean, components, _ = _pca(X, 64)
    print(json.dumps({"pca64_seconds": round(time.perf_counter() - start, 2)}),
          flush=True)
    checkpoints = sorted(
        {c for c in (0, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000)
         if c <= cap} | {cap}
    )
    for bits in (32, 64):
        V = ((X - mean) @ components[:bits].T).astype(np.float64)
        Vq = ((Xq - mean) @ components[:bits].T).astype(np.float64)
        for seed in (0, 1, 2):
            record = one_run(V, Vq, y, yq, bits, seed, cap, checkpoints)
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
