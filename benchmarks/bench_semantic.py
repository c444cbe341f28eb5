"""Benchmark and ablation of SemanticKLHasher against its peers.

Two datasets:

* ``fashion``: Fashion-MNIST pixels in [0, 1] (Debian ``dataset-fashion-mnist``),
  the protocol of ``benchmarks/bench_supervised.py`` so that the deep
  baselines' tables compare: the hashers train on the first ``--n-train``
  images of the train split, the database is the whole 60k train split, the
  queries are the first ``--n-query`` test images; mAHP uses the shipped
  WordNet hierarchy (:func:`sklhash.datasets.fashion_mnist_hierarchy`).
* ``gloss``: :func:`sklhash.datasets.load_wordnet_glosses` (80 classes, real
  WordNet hierarchy), texts embedded by ``SentenceEncoder`` (384-d, cached as
  ``.npy`` under ``--cache``, then standardised with the database's mean and
  standard deviation); 1,000 random items are the queries, the rest the
  database and training data.

Metrics: mAP@1000 of the codes (tie-averaged, AP normalised by min(R, k), see
:mod:`sklhash.metrics`), the same for ``decision_function`` outputs under
Euclidean distance (``float``; the gap is the rounding loss), mAHP@250,
precision within Hamming radius 2 (P@r<=2), fit seconds.

Usage::

    python benchmarks/bench_semantic.py --dataset fashion --bits 16 32 64
    python benchmarks/bench_semantic.py --dataset gloss --bits 16 32 64
    python benchmarks/bench_semantic.py --ablation --dataset gloss --bits 16

Each run writes ``<out>.json`` and ``<out>.md`` (a markdown table).
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from sklhash import ITQHasher, LSHHasher, SemanticKLHasher
from sklhash.metrics import (
    mean_average_hierarchical_precision,
    mean_average_precision,
    precision_recall_at_radius,
)


def load_fashion(n_train, n_query):
    from sklhash.datasets import fashion_mnist_hierarchy, load_fashion_mnist

    Xtr, ytr = load_fashion_mnist("train", return_X_y=True)
    Xte, yte = load_fashion_mnist("test", return_X_y=True)
    return (
        Xtr[:n_train],
        ytr[:n_train],
        Xtr,
        ytr,
        Xte[:n_query],
        yte[:n_query],
        fashion_mnist_hierarchy(),
    )


def load_gloss(n_query, cache):
    from sklhash.datasets import load_wordnet_glosses

    ds = load_wordnet_glosses(n_classes=80, max_per_class=80, random_state=0)
    path = Path(cache) / "sklhash_gloss80_minilm.npy"
    if path.exists():
        E = np.load(path)
    else:
        from sklhash.similarity import SentenceEncoder

        E = SentenceEncoder().fit().transform(ds.data).astype(np.float32)
        np.save(path, E)
    y = np.asarray(ds.target)
    p = np.random.RandomState(0).permutation(len(y))
    q, db = p[:n_query], p[n_query:]
    # Standardised with the database's statistics: the unit-norm sentence
    # vectors have coordinates of about 0.05, slow for an MLP to start from.
    mu, sd = E[db].mean(axis=0), E[db].std(axis=0)
    sd[sd == 0] = 1.0  # MiniLM has a constant coordinate
    E = ((E - mu) / sd).astype(np.float32)
    return E[db], y[db], E[db], y[db], E[q], y[q], ds.hierarchy


def _deep_baselines():
    try:
        from sklhash.hashers.supervised import CSQHasher, DPSHHasher, HashNetHasher
    except ImportError:  # not landed yet
        return {}
    return {"DPSH": DPSHHasher, "HashNet": HashNetHasher, "CSQ": CSQHasher}


def methods(bits, epochs, backbone, hidden, seed, include, hierarchy):
    deep = dict(
        backbone=backbone,
        hidden_layer_sizes=hidden,
        max_epochs=epochs,
        random_state=seed,
    )
    out = {
        "SemanticKL": SemanticKLHasher(bits=bits, **deep),
        "SemanticKL (kl_weight=0)": SemanticKLHasher(bits=bits, kl_weight=0, **deep),
        "SemanticKL (hierarchy)": SemanticKLHasher(
            bits=bits, hierarchy=hierarchy, **deep
        ),
        "LSH": LSHHasher(bits=bits, random_state=seed),
    }
    if backbone != "cnn":
        out["ITQ"] = ITQHasher(bits=bits, random_state=seed)
    for name, cls in _deep_baselines().items():
        out[name] = cls(bits=bits, **deep)
    # The deep baselines run only when named (``--methods ... DPSH CSQ``): on
    # Fashion-MNIST benchmarks/bench_supervised.py reports them on this split.
    default = {
        "SemanticKL",
        "SemanticKL (kl_weight=0)",
        "SemanticKL (hierarchy)",
        "LSH",
        "ITQ",
    }
    return {k: v for k, v in out.items() if k in (include or default)}


def ablation(bits, epochs, backbone, hidden, seed, hierarchy):
    deep = dict(
        bits=bits,
        backbone=backbone,
        hidden_layer_sizes=hidden,
        max_epochs=epochs,
        random_state=seed,
    )
    return {
        "kl (default)": SemanticKLHasher(**deep),
        "kl_weight=0": SemanticKLHasher(kl_weight=0, **deep),
        "kl_warmup=0": SemanticKLHasher(kl_warmup=0.0, **deep),
        "ce_weight=0": SemanticKLHasher(ce_weight=0.0, **deep),
        "ce_weight=0, kl_weight=0": SemanticKLHasher(
            ce_weight=0.0, kl_weight=0, **deep
        ),
        "l2 (weight 0.1)": SemanticKLHasher(quantization="l2", kl_weight=0.1, **deep),
        "householder": SemanticKLHasher(quantization="householder", **deep),
        "joint k-NN KL (1e-3)": SemanticKLHasher(
            kl_form="joint", kl_weight=1e-3, **deep
        ),
        "bitwise kernel KL (0.01)": SemanticKLHasher(
            kl_form="bitwise", kl_weight=0.01, **deep
        ),
        "ce_weight=1": SemanticKLHasher(ce_weight=1.0, **deep),
        "hierarchy": SemanticKLHasher(hierarchy=hierarchy, **deep),
        "hierarchy, kl_weight=0": SemanticKLHasher(
            hierarchy=hierarchy, kl_weight=0, **deep
        ),
        "hierarchy, ce_weight=0": SemanticKLHasher(
            hierarchy=hierarchy, ce_weight=0.0, **deep
        ),
    }


def evaluate(est, Xtr, ytr, Xdb, ydb, Xq, yq, hierarchy):
    t = time.perf_counter()
    est.fit(Xtr, ytr)
    fit_s = time.perf_counter() - t
    cq, cdb = est.transform(Xq), est.transform(Xdb)
    row = {
        "mAP@1000": mean_average_precision(cq, cdb, yq, ydb, k=1000),
        "mAHP@250": mean_average_hierarchical_precision(
            cq, cdb, yq, ydb, similarity=hierarchy, k=250
        ),
        "P@r<=2": float(
            np.mean(precision_recall_at_radius(cq, cdb, yq, ydb, radius=2)[0])
        ),
        "fit_s": fit_s,
    }
    if hasattr(est, "net_"):
        fq, fdb = est.decision_function(Xq), est.decision_function(Xdb)
        row["float mAP@1000"] = mean_average_precision(
            fq, fdb, yq, ydb, k=1000, metric="euclidean"
        )
        row["float mAHP@250"] = mean_average_hierarchical_precision(
            fq, fdb, yq, ydb, similarity=hierarchy, k=250, metric="euclidean"
        )
        row["gap"] = row["float mAP@1000"] - row["mAP@1000"]
    return row


def to_markdown(rows, title):
    cols = [
        "mAP@1000",
        "float mAP@1000",
        "gap",
        "mAHP@250",
        "float mAHP@250",
        "P@r<=2",
        "fit_s",
    ]
    lines = [
        f"#### {title}",
        "",
        "| method | bits | " + " | ".join(cols) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    for r in rows:
        cells = [
            "" if c not in r else (f"{r[c]:.1f}" if c == "fit_s" else f"{r[c]:.3f}")
            for c in cols
        ]
        lines.append(f"| {r['method']} | {r['bits']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["fashion", "gloss"], default="fashion")
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--n-query", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--backbone", default="mlp")
    parser.add_argument("--hidden", type=int, nargs="*", default=[1024])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="*", default=None)
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", default=os.environ.get("TMPDIR", "/tmp"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if args.dataset == "fashion":
        Xtr, ytr, Xdb, ydb, Xq, yq, h = load_fashion(args.n_train, args.n_query)
        if args.backbone == "cnn":
            Xtr, Xdb, Xq = (A.reshape(-1, 1, 28, 28) for A in (Xtr, Xdb, Xq))
    else:
        Xtr, ytr, Xdb, ydb, Xq, yq, h = load_gloss(args.n_query, args.cache)
    hidden = tuple(args.hidden)
    kind = "ablation" if args.ablation else "benchmark"
    out = args.out or f"bench_semantic_{args.dataset}_{kind}"
    rows = []
    for bits in args.bits:
        if args.ablation:
            ests = ablation(bits, args.epochs, args.backbone, hidden, args.seed, h)
            if args.methods:
                ests = {k: v for k, v in ests.items() if k in args.methods}
        else:
            ests = methods(
                bits, args.epochs, args.backbone, hidden, args.seed, args.methods, h
            )
        for name, est in ests.items():
            row = {
                "method": name,
                "bits": bits,
                **evaluate(est, Xtr, ytr, Xdb, ydb, Xq, yq, h),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            Path(out + ".json").write_text(
                json.dumps({"args": vars(args), "rows": rows}, indent=1)
            )
    title = (
        f"{args.dataset}: {len(Xtr)} train, {len(Xdb)} database, {len(Xq)} queries, "
        f"{args.backbone} {hidden}, {args.epochs} epochs, seed {args.seed}"
    )
    Path(out + ".md").write_text(to_markdown(rows, title))
    print(to_markdown(rows, title))


if __name__ == "__main__":
    main()
