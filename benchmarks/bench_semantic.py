"""Benchmark and ablation of SemanticKLHasher against its peers.

Two datasets:

* ``fashion``: Fashion-MNIST pixels in [0, 1] (Debian ``dataset-fashion-mnist``);
  the first ``--n-train`` images of the train split are both the training
  data and the database, ``--n-query`` test images (random, seed 0) are the
  queries; mAHP uses the shipped WordNet hierarchy
  (:func:`sklhash.datasets.fashion_mnist_hierarchy`).
* ``gloss``: :func:`sklhash.datasets.load_wordnet_glosses` (80 classes, real
  WordNet hierarchy), texts embedded by ``SentenceEncoder`` (384-d, cached as
  ``.npy`` under ``--cache``); 1,000 random items are the queries, the rest
  the database and training data.

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
    q = np.random.RandomState(0).permutation(len(Xte))[:n_query]
    return Xtr[:n_train], ytr[:n_train], Xte[q], yte[q], fashion_mnist_hierarchy()


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
    return E[db], y[db], E[q], y[q], ds.hierarchy


def _deep_baselines():
    try:
        from sklhash.hashers.supervised import CSQHasher, DPSHHasher, HashNetHasher
    except ImportError:  # not landed yet
        return {}
    return {"DPSH": DPSHHasher, "HashNet": HashNetHasher, "CSQ": CSQHasher}


def methods(bits, epochs, backbone, hidden, seed, include):
    deep = dict(
        backbone=backbone, hidden_layer_sizes=hidden, max_epochs=epochs,
        random_state=seed,
    )
    out = {
        "SemanticKL": SemanticKLHasher(bits=bits, **deep),
        "SemanticKL (kl_weight=0)": SemanticKLHasher(bits=bits, kl_weight=0, **deep),
        "LSH": LSHHasher(bits=bits, random_state=seed),
    }
    if backbone != "cnn":
        out["ITQ"] = ITQHasher(bits=bits, random_state=seed)
    for name, cls in _deep_baselines().items():
        out[name] = cls(bits=bits, **deep)
    return {k: v for k, v in out.items() if include is None or k in include}


def ablation(bits, epochs, backbone, hidden, seed, hierarchy):
    deep = dict(
        bits=bits, backbone=backbone, hidden_layer_sizes=hidden,
        max_epochs=epochs, random_state=seed,
    )
    return {
        "kl (default)": SemanticKLHasher(**deep),
        "kl_weight=0": SemanticKLHasher(kl_weight=0, **deep),
        "kl_weight=0.3": SemanticKLHasher(kl_weight=0.3, **deep),
        "quantization=None": SemanticKLHasher(quantization=None, **deep),
        "l2 (0.1)": SemanticKLHasher(quantization="l2", kl_weight=0.1, **deep),
        "householder": SemanticKLHasher(quantization="householder", **deep),
        "joint k-NN KL (1e-3)": SemanticKLHasher(kl_form="joint", kl_weight=1e-3, **deep),
        "hierarchy targets": SemanticKLHasher(hierarchy=hierarchy, **deep),
        "hierarchy + CE 1": SemanticKLHasher(hierarchy=hierarchy, ce_weight=1.0, **deep),
        "CE 1": SemanticKLHasher(ce_weight=1.0, **deep),
    }


def evaluate(est, Xdb, ydb, Xq, yq, hierarchy):
    t = time.perf_counter()
    est.fit(Xdb, ydb)
    fit_s = time.perf_counter() - t
    cq, cdb = est.transform(Xq), est.transform(Xdb)
    row = {
        "mAP@1000": mean_average_precision(cq, cdb, yq, ydb, k=1000),
        "mAHP@250": mean_average_hierarchical_precision(
            cq, cdb, yq, ydb, similarity=hierarchy, k=250
        ),
        "P@r<=2": float(np.mean(
            precision_recall_at_radius(cq, cdb, yq, ydb, radius=2)[0]
        )),
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
    cols = ["mAP@1000", "float mAP@1000", "gap", "mAHP@250", "float mAHP@250",
            "P@r<=2", "fit_s"]
    lines = [f"#### {title}", "",
             "| method | bits | " + " | ".join(cols) + " |",
             "|---|---|" + "---|" * len(cols)]
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
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-query", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10)
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
        Xdb, ydb, Xq, yq, h = load_fashion(args.n_train, args.n_query)
        if args.backbone == "cnn":
            Xdb, Xq = Xdb.reshape(-1, 1, 28, 28), Xq.reshape(-1, 1, 28, 28)
    else:
        Xdb, ydb, Xq, yq, h = load_gloss(args.n_query, args.cache)
    hidden = tuple(args.hidden)
    kind = "ablation" if args.ablation else "benchmark"
    out = args.out or f"bench_semantic_{args.dataset}_{kind}"
    rows = []
    for bits in args.bits:
        if args.ablation:
            ests = ablation(bits, args.epochs, args.backbone, hidden, args.seed, h)
        else:
            ests = methods(bits, args.epochs, args.backbone, hidden, args.seed,
                           args.methods)
        for name, est in ests.items():
            row = {"method": name, "bits": bits,
                   **evaluate(est, Xdb, ydb, Xq, yq, h)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            Path(out + ".json").write_text(json.dumps(
                {"args": vars(args), "rows": rows}, indent=1))
    title = (f"{args.dataset}: {len(Xdb)} train = database, {len(Xq)} queries, "
             f"{args.backbone} {hidden}, {args.epochs} epochs, seed {args.seed}")
    Path(out + ".md").write_text(to_markdown(rows, title))
    print(to_markdown(rows, title))


if __name__ == "__main__":
    main()
