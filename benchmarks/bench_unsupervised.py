"""Unsupervised hashers side by side: NSH, CIBHash and the classic baselines.

Protocol (DESIGN.md section 8, scaled to the machine): raw pixels scaled to
[0, 1]. Fashion-MNIST: every method trains on the first ``--n-train``
training images, the database is the first ``--n-db`` training images and
the queries are the first ``--n-query`` test images. Digits
(``load_digits``, 8x8): the first 1,500 images are the database and the
training set, the last 297 the queries. Reported per method and code length:

* mAP@1000 (digits: mAP@100), tie-exact (``ties="average"``), AP normalised by
  ``min(R, k)`` -- sklhash's definition, *not* DeepHash-pytorch's
  (``normalize="retrieved"``, also stored in the JSON);
* precision within Hamming radius 2 (an empty lookup counts as 0);
* fit seconds (one torch thread);
* mAP@all and the PR curve over Hamming radii, as :mod:`sklhash.benchmark`
  (whose loop and metrics this script uses) reports them.

NSH-latent is NSHasher with ``code_source="latent"`` (ITQ codes of the
trained latents). The deep methods (NSH, NSH-latent, CIBHash) run
``--seeds`` seeds (mean +- std), the classic ones (LSH, PCAH, ITQ,
SpectralHasher) one (ITQ/LSH: seed 0).
NSH and CIBHash use the CNN backbone and image augmentations on
Fashion-MNIST, the MLP backbone and feature augmentations on digits; the
classic methods see the same pixels. Results: ``<out>/unsupervised_<data>.json``,
``.md`` and ``_pr_curves.png``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_unsupervised.py --data fashion \
        --bits 32 64 --seeds 0 1 2 --max-epochs 10
"""

import argparse
import json
import platform

import numpy as np


def _load(args):
    """The split as a BenchmarkData, and the mAP cut-off k."""
    from sklhash.benchmark import BenchmarkData

    if args.data == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = (X / 16).astype(np.float32)
        data = BenchmarkData(
            "digits",
            X[:1500],
            y[:1500],
            X[1500:],
            y[1500:],
            description="scikit-learn digits, 8x8 pixels in [0, 1]; the first "
            "1500 images are training set and database, the last 297 queries",
        )
        return data, 100
    from sklhash.datasets import load_fashion_mnist

    X, y = load_fashion_mnist("train", return_X_y=True)
    Xq, yq = load_fashion_mnist("test", return_X_y=True)
    data = BenchmarkData(
        "fashion-mnist",
        X[: args.n_train],
        y[: args.n_train],
        Xq[: args.n_query],
        yq[: args.n_query],
        X_db=X[: args.n_db],
        y_db=y[: args.n_db],
        description=f"Fashion-MNIST pixels in [0, 1]; trained on the first "
        f"{args.n_train} training images, database = the first {args.n_db}, "
        f"the first {args.n_query} test images as queries",
    )
    return data, 1000


def _methods(args):
    """(classic, deep): dicts of label -> factory(bits, seed)."""
    from sklhash import (
        CIBHasher,
        ITQHasher,
        LSHHasher,
        NSHasher,
        PCAHasher,
        SpectralHasher,
    )

    image = args.data == "fashion"
    deep = dict(
        backbone="cnn" if image else "mlp",
        hidden_layer_sizes=(256,),
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        device=args.device,
    )
    classic = {
        "LSH": lambda bits, seed: LSHHasher(bits=bits, random_state=seed),
        "PCAH": lambda bits, seed: PCAHasher(bits=bits),
        "ITQ": lambda bits, seed: ITQHasher(bits=bits, random_state=seed),
        "SH": lambda bits, seed: SpectralHasher(bits=bits),
    }
    deep_methods = {
        "CIBHash": lambda bits, seed: CIBHasher(
            bits=bits, lr=args.lr_cib, random_state=seed, **deep
        ),
    }
    # NSH-latent: the same network, codes from ITQ on its latents.
    for label, source in (("NSH", "head"), ("NSH-latent", "latent")):
        deep_methods[label] = lambda bits, seed, source=source: NSHasher(
            bits=bits,
            n_positives=args.n_positives,
            lr=args.lr_nsh,
            warmup_epochs=args.warmup_epochs,
            code_contrastive_weight=args.code_contrastive_weight,
            code_source=source,
            random_state=seed,
            **deep,
        )
    return classic, deep_methods


_MEMORY_PROBE = """
import resource, sys, torch
torch.set_num_threads(1)
from sklhash.nn._ste import sign_ste
from sklhash.nn.losses import sorted_nce_loss
n, bits, d = map(int, sys.argv[1:4])
g = torch.Generator().manual_seed(0)
h = torch.randn(2, n, bits, generator=g, requires_grad=True)
z = torch.randn(2, n, d, generator=g, requires_grad=True)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
b = sign_ste(torch.tanh(h))
sorted_nce_loss(b[0], b[1], z[0], z[1], symmetric=True).backward()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def memory_table(sizes=(64, 128, 192, 256, 320), bits=64, latent_dim=128):
    """Peak extra memory (MiB) of one SortedNCE forward + backward by batch size.

    Each size runs in a fresh interpreter (peak RSS never decreases).
    """
    import subprocess
    import sys

    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(n), str(bits), str(latent_dim)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append((n, float(out.stdout.strip())))
        print(json.dumps({"batch": n, "mib": rows[-1][1]}), flush=True)
    # Fit MiB = a n^3 + c n^2 (the soft permutations and the gathered latents).
    n = np.array([r[0] for r in rows], dtype=float)
    A = np.stack([n**3, n**2], axis=1)
    coef, *_ = np.linalg.lstsq(A, np.array([r[1] for r in rows]), rcond=None)
    return rows, coef


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["fashion", "digits"], default="fashion")
    p.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="subset of LSH PCAH ITQ SH CIBHash NSH NSH-latent",
    )
    p.add_argument("--n-train", type=int, default=20000)
    p.add_argument("--n-db", type=int, default=20000)
    p.add_argument("--n-query", type=int, default=1000)
    p.add_argument("--max-epochs", type=int, default=10)
    p.add_argument("--warmup-epochs", type=int, default=2)
    p.add_argument("--n-positives", type=int, default=8)
    p.add_argument(
        "--code-contrastive-weight",
        type=float,
        default=0.0,
        help="NSHasher's optional CIBHash term on the code head",
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr-nsh", type=float, default=1e-3)
    p.add_argument(
        "--lr-cib",
        type=float,
        default=3e-3,
        help="CIBHash needs a larger step to leave p = 1/2 early",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (deep methods)")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument(
        "--memory",
        action="store_true",
        help="only measure SortedNCE's peak memory by batch size",
    )
    args = p.parse_args(argv)
    if args.memory:
        rows, coef = memory_table()
        # Largest batch whose predicted peak stays under 2 GiB.
        sizes = np.arange(16, 4096)
        fits = sizes[coef[0] * sizes**3 + coef[1] * sizes**2 <= 2048]
        print(
            f"MiB ~ {coef[0]:.3g} n^3 + {coef[1]:.3g} n^2; "
            f"largest batch under 2 GiB: {fits.max()}"
        )
        return

    import torch

    from sklhash.benchmark import (
        checkpointing_progress,
        markdown_table,
        run_benchmark,
        summarize,
        write_report,
    )

    torch.set_num_threads(args.threads)
    data, k = _load(args)
    data.extra = {
        **vars(args),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    data.description += (
        f"; deep methods: seeds {list(args.seeds)}, {args.max_epochs} epochs, "
        "classic methods: seed 0"
    )
    classic, deep = _methods(args)
    name = f"unsupervised_{args.data}"
    results = []

    progress = checkpointing_progress(results, args.out, data, name=name)

    for label, factory in {**classic, **deep}.items():
        if args.methods and label not in args.methods:
            continue
        run_benchmark(
            data,
            [(label, factory)],
            bits=args.bits,
            seeds=args.seeds if label in deep else (0,),
            progress=progress,
            k=k,
        )
    write_report(results, args.out, data, name=name)
    print(markdown_table(summarize(results)))


if __name__ == "__main__":
    main()
