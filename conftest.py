"""Settings for the whole test run (tests/ and the doctests in sklhash/)."""

import os

# pytest -n 2 already keeps both cores busy: one BLAS / OpenMP / torch thread
# per worker avoids oversubscription (2 workers x 2 BLAS threads on 2 shared
# cores ran small BLAS calls tens of times slower). Set before numpy or torch
# are imported; threadpoolctl covers a numpy imported earlier.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(1)
