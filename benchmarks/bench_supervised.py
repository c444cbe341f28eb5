"""Deep supervised baselines (DPSH, HashNet, CSQ) on Fashion-MNIST.

Protocol (DESIGN.md section 8): raw pixels scaled to [0, 1]; the networks
train on the first ``--n-train`` images of the 60k training split; the
database is the whole 60k training split and the queries are the first
``--n-query`` images of the test split. Reported per method and code length:

* mAP@1000, tie-exact (``ties="average"``), AP normalised by ``min(R, k)``
  (sklhash's definition), and the same with DeepHash-pytorch's convention
  (``normalize="retrieved"``) for comparison with papers;
* mAP@1000 of the continuous outputs ranked by cosine (the rounding gap);
* mAHP@250 with the WordNet hierarchy of :func:`fashion_mnist_hierarchy`;
* precision within Hamming radius 2 (an empty lookup counts as 0);
* fit seconds (one thread unless ``--threads``).

LSH and ITQ on the same split are included as references. Results go to
``<out>/supervised_fashion_mnist_<backbone>.json`` and ``.md``.

Usage::

    python benchmarks/bench_supervised.py --bits 16 32 64 --backbone mlp
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def _methods(args, bits, seed):
    from sklhash import CSQHasher, DPSHHasher, HashNetHasher, ITQHasher, LSHHasher

    deep = {
        "backbone": args.backbone,
        "hidden_layer_sizes": tuple(args.hidden),
        "max_epochs": args.max_epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "random_state": seed,
    }
    return {
        "LSH": lambda: LSHHasher(bits=bits, random_state=seed),
        "ITQ": lambda: ITQHasher(bits=bits, random_state=seed),
        "DPSH": lambda: DPSHHasher(bits=bits, **deep),
        "HashNet": lambda: HashNetHasher(bits=bits, **deep),
        "CSQ": lambda: CSQHasher(bits=bits, **deep),
    }


def _evaluate(hasher, X_db, y_db, X_q, y_q, hierarchy):
    from sklhash.metrics import (
        mean_average_hierarchical_precision,
        mean_average_precision,
        precision_recall_at_radius,
    )

    t0 = time.perf_counter()
    db = hasher.transform(X_db)
    q = hasher.transform(X_q)
    encode_s = time.perf_counter() - t0
    row = {
        "mAP@1000": mean_average_precision(q, db, y_q, y_db, k=1000),
        "mAP@1000_deephash": mean_average_precision(
            q, db, y_q, y_db, k=1000, normalize="retrieved"
        ),
        "mAHP@250": mean_average_hierarchical_precision(
            q, db, y_q, y_db, similarity=hierarchy, k=250
        ),
        "P@r<=2": precision_recall_at_radius(q, db, y_q, y_db, radius=2)[0],
        "encode_per_s": (len(X_db) + len(X_q)) / encode_s,
    }
    if hasattr(hasher, "embed"):
        row["mAP@1000_float"] = mean_average_precision(
            hasher.embed(X_q), hasher.embed(X_db), y_q, y_db, k=1000, metric="cosine"
        )
    return {k: float(v) for k, v in row.items()}


def _markdown(results, meta):
    cols = ["mAP@1000", "mAP@1000_deephash", "mAP@1000_float", "mAHP@250",
            "P@r<=2", "fit_s"]
    lines = [
        f"Fashion-MNIST, backbone `{meta['backbone']}` "
        f"(hidden {meta['hidden']}), trained on {meta['n_train']} images, "
        f"{meta['max_epochs']} epochs, batch {meta['batch_size']}, Adam lr "
        f"{meta['lr']}; database = {meta['n_db']} training images, "
        f"{meta['n_query']} test queries; seed {meta['seed']}; "
        f"{meta['threads']} thread(s).",
        "",
        "| method | bits | " + " | ".join(cols) + " |",
        "|---|---:|" + "---:|" * len(cols),
    ]
    for r in results:
        cells = []
        for c in cols:
            v = r.get(c)
            cells.append("" if v is None else (f"{v:.1f}" if c == "fit_s" else f"{v:.3f}"))
        lines.append(f"| {r['method']} | {r['bits']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+",
                        default=["LSH", "ITQ", "DPSH", "HashNet", "CSQ"])
    parser.add_argument("--bits", nargs="+", type=int, default=[16, 32, 64])
    parser.add_argument("--backbone", default="mlp", choices=["mlp", "cnn"])
    parser.add_argument("--hidden", nargs="+", type=int, default=[1024])
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-query", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)

    import skorch  # noqa: F401  (imported here so fit times exclude it)
    import torch

    from sklhash.datasets import fashion_mnist_hierarchy, load_fashion_mnist

    torch.set_num_threads(args.threads)
    X_db, y_db = load_fashion_mnist("train", return_X_y=True)
    X_q, y_q = load_fashion_mnist("test", return_X_y=True)
    X_q, y_q = X_q[: args.n_query], y_q[: args.n_query]
    X_tr, y_tr = X_db[: args.n_train], y_db[: args.n_train]
    hierarchy = fashion_mnist_hierarchy()

    meta = {
        "dataset": "fashion-mnist", "backbone": args.backbone,
        "hidden": list(args.hidden), "max_epochs": args.max_epochs,
        "batch_size": args.batch_size, "lr": args.lr, "n_train": len(X_tr),
        "n_db": len(X_db), "n_query": len(X_q), "seed": args.seed,
        "threads": args.threads, "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "metric_notes": "mAP tie-exact (ties=average), AP@k / min(R, k); "
                        "_deephash: AP@k / hits in top k (DeepHash-pytorch).",
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"supervised_fashion_mnist_{args.backbone}"
    results = []
    for bits in args.bits:
        methods = _methods(args, bits, args.seed)
        for name in args.methods:
            hasher = methods[name]()
            t0 = time.perf_counter()
            hasher.fit(X_tr, y_tr)
            fit_s = time.perf_counter() - t0
            row = {"method": name, "bits": bits, "fit_s": fit_s,
                   **_evaluate(hasher, X_db, y_db, X_q, y_q, hierarchy)}
            results.append(row)
            print(json.dumps(row), flush=True)
            # Rewrite after every method so a long run keeps what it measured.
            stem.with_suffix(".json").write_text(
                json.dumps({"meta": meta, "results": results}, indent=1)
            )
            stem.with_suffix(".md").write_text(_markdown(results, meta))
    print(_markdown(results, meta))


if __name__ == "__main__":
    main()
