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

LSH and ITQ on the same split are included as references. The loop and the
metrics are :mod:`sklhash.benchmark`'s (which adds mAP@all); results go to
``<out>/supervised_fashion_mnist_<backbone>.json``, ``.md`` and
``_pr_curves.png``.

Usage::

    python benchmarks/bench_supervised.py --bits 16 32 64 --backbone mlp
"""

import argparse
import platform
from pathlib import Path


def _methods(args):
    """(label, factory(bits, seed)) pairs, in the order of ``--methods``."""
    from sklhash import CSQHasher, DPSHHasher, HashNetHasher, ITQHasher, LSHHasher

    def deep(cls):
        def factory(bits, seed):
            return cls(
                bits=bits,
                backbone=args.backbone,
                hidden_layer_sizes=tuple(args.hidden),
                max_epochs=args.max_epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                random_state=seed,
            )

        return factory

    available = {
        "LSH": lambda bits, seed: LSHHasher(bits=bits, random_state=seed),
        "ITQ": lambda bits, seed: ITQHasher(bits=bits, random_state=seed),
        "DPSH": deep(DPSHHasher),
        "HashNet": deep(HashNetHasher),
        "CSQ": deep(CSQHasher),
    }
    return [(name, available[name]) for name in args.methods]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--methods", nargs="+", default=["LSH", "ITQ", "DPSH", "HashNet", "CSQ"]
    )
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

    from sklhash.benchmark import (
        BenchmarkData,
        checkpointing_progress,
        markdown_table,
        run_benchmark,
        summarize,
        write_report,
    )
    from sklhash.datasets import fashion_mnist_hierarchy, load_fashion_mnist

    torch.set_num_threads(args.threads)
    X_db, y_db = load_fashion_mnist("train", return_X_y=True)
    X_q, y_q = load_fashion_mnist("test", return_X_y=True)
    X_q, y_q = X_q[: args.n_query], y_q[: args.n_query]
    X_tr, y_tr = X_db[: args.n_train], y_db[: args.n_train]

    meta = {
        "backbone": args.backbone,
        "hidden": list(args.hidden),
        "max_epochs": args.max_epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    data = BenchmarkData(
        "fashion-mnist",
        X_tr,
        y_tr,
        X_q,
        y_q,
        X_db=X_db,
        y_db=y_db,
        hierarchy=fashion_mnist_hierarchy(),
        description=(
            f"Fashion-MNIST pixels in [0, 1], backbone `{args.backbone}` (hidden "
            f"{list(args.hidden)}), {args.max_epochs} epochs, batch "
            f"{args.batch_size}, Adam lr {args.lr}; trained on the first "
            f"{len(X_tr)} training images, database = the {len(X_db)} training "
            f"images, the first {len(X_q)} test images as queries; seed "
            f"{args.seed}; {args.threads} thread(s); float mAP ranks the "
            "continuous outputs by cosine"
        ),
        extra=meta,
    )
    out = Path(args.out)
    name = f"supervised_fashion_mnist_{args.backbone}"
    results = []

    progress = checkpointing_progress(results, out, data, name=name)

    run_benchmark(
        data,
        _methods(args),
        bits=args.bits,
        seeds=(args.seed,),
        progress=progress,
        float_metric="cosine",
    )
    write_report(results, out, data, name=name)
    print(markdown_table(summarize(results)))


if __name__ == "__main__":
    main()
