"""Post-hoc quantisation of embeddings: sign vs PCA vs ITQ vs Householder.

Three parts (``--part``):

``planted``
    Binary codes ``B`` in {-1, 1}^K plus Gaussian noise, rotated by a random
    orthogonal matrix. Every method sees the same rows rescaled to norm
    sqrt(K) and is scored by the quantisation error per bit
    ``mean((sgn(V) - V)^2)`` of its pre-sign values ``V`` (rows rescaled the
    same way), on the training rows and on held-out rows.
``fmnist``
    Continuous embeddings learned on Fashion-MNIST by a small MLP
    (784-512-K, ReLU, linear output) trained with a pairwise cosine loss and
    NO quantisation term (20k training images = the database, 1,000 test
    images = the queries). mAP@1000 (sklhash.metrics: ties averaged exactly,
    AP normalised by min(R, k)) of the codes of every method, mean +- std
    over seeds (each seed: a new network and new quantiser seeds).
``fit_time``
    Fit time of HouseholderQuantizer on 60,000 x 64 embeddings.

Methods: plain sign; PCA sign (centred principal axes, PCAHasher-style);
sklhash ITQ (``itq_rotation``, 50 iterations, on the same rescaled rows as
Householder; and ``ITQHasher``, centred PCA + ITQ, in ``fmnist``); FAISS's
``ITQMatrix`` when faiss is installed; HouseholderQuantizer with each loss
(defaults: plateau schedule, patience 10) and, with ``--paper``, the paper's
protocol (constant step, 300 epochs) for ``"l2"`` on the first seed.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_quantization.py --part all``
(``--quick`` for a smoke run). Writes a JSON file and prints markdown tables.
"""

import argparse
import json
import os
import time

import numpy as np

from sklhash import HouseholderQuantizer, ITQHasher, PCAHasher
from sklhash.hashers.classic import _random_rotation, itq_rotation
from sklhash.hashers.householder import _rescale_rows
from sklhash.metrics import mean_average_precision

LOSSES = ["l2", "l1", "min", "bit_var"]


def _qerr(V):
    """Quantisation error per bit of pre-sign values, rows at norm sqrt(K)."""
    V = _rescale_rows(V)
    return float(np.mean((np.where(V > 0, 1.0, -1.0) - V) ** 2))


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


# ---------------------------------------------------------------------------
# The quantisers. Each returns (encode, fit_seconds, extra) where encode maps
# rows of the embedding to pre-sign values.
# ---------------------------------------------------------------------------


def q_sign(Z, seed):
    return (lambda X: np.asarray(X, dtype=np.float64)), 0.0, {}


def q_pca(Z, seed):
    est, t = _timed(lambda: PCAHasher(bits=Z.shape[1]).fit(Z))
    return est.decision_function, t, {}


def q_itq_rotation(Z, seed):
    (R, errors), t = _timed(
        lambda: itq_rotation(_rescale_rows(Z), n_iter=50, random_state=seed)
    )
    return (lambda X: _rescale_rows(X) @ R), t, {}


def q_itq_hasher(Z, seed):
    est, t = _timed(lambda: ITQHasher(bits=Z.shape[1], random_state=seed).fit(Z))
    return est.decision_function, t, {}


def q_faiss_itq(Z, seed):
    import faiss

    def fit():
        itq = faiss.ITQMatrix(Z.shape[1])
        itq.seed = int(seed)
        itq.max_iter = 50
        itq.train(np.ascontiguousarray(_rescale_rows(Z), dtype=np.float32))
        return itq

    itq, t = _timed(fit)
    return (
        lambda X: itq.apply(np.ascontiguousarray(_rescale_rows(X), dtype=np.float32))
    ), t, {}


def q_householder(loss, **params):
    def fit(Z, seed):
        est, t = _timed(
            lambda: HouseholderQuantizer(loss=loss, random_state=seed, **params).fit(Z)
        )
        return est.decision_function, t, {"epochs": est.n_iter_,
                                           "best_epoch": est.best_epoch_}

    return fit


def _methods(with_faiss=True, paper=False, hasher_itq=False):
    methods = {"sign": q_sign, "PCA sign": q_pca, "ITQ (sklhash)": q_itq_rotation}
    if hasher_itq:
        methods["ITQHasher (centred PCA+ITQ)"] = q_itq_hasher
    if with_faiss:
        try:
            import faiss  # noqa: F401

            methods["ITQ (faiss ITQMatrix)"] = q_faiss_itq
        except ImportError:
            pass
    for loss in LOSSES:
        methods[f"Householder {loss}"] = q_householder(loss)
    # bit_var's gradients are about 10x smaller than l2's at the same point:
    # the paper's step 0.01 barely moves it (see docs/householder.md).
    methods["Householder bit_var, lr=1"] = q_householder("bit_var", lr=1.0)
    if paper:
        methods["Householder l2, paper (300 ep, constant)"] = q_householder(
            "l2", n_iter_no_change=None, lr_schedule="constant", max_epochs=300
        )
    return methods


# ---------------------------------------------------------------------------
# (a) planted rotation
# ---------------------------------------------------------------------------


def planted(dims, n, noise, seeds, paper):
    rows = []
    for K in dims:
        for seed in seeds:
            rng = np.random.RandomState(seed)
            B = np.where(rng.rand(2 * n, K) > 0.5, 1.0, -1.0)
            Q = _random_rotation(K, rng)
            Z_all = (B + noise * rng.standard_normal((2 * n, K))) @ Q
            Z, Z_test = Z_all[:n], Z_all[n:]
            # Error of the planted codes themselves: the floor.
            floor = _qerr(Z_all[n:] @ Q.T)
            # The 300-epoch protocol is slow: run it on the first seed only.
            for name, method in _methods(paper=paper and seed == seeds[0]).items():
                encode, t, extra = method(Z, seed)
                rows.append({
                    "K": K, "seed": seed, "method": name, "fit_s": t,
                    "train_err": _qerr(encode(Z)), "test_err": _qerr(encode(Z_test)),
                    "floor": floor, **extra,
                })
                print(f"planted K={K} seed={seed} {name:40s} "
                      f"err={rows[-1]['test_err']:.4f} fit={t:.2f}s", flush=True)
    return rows


# ---------------------------------------------------------------------------
# (b) Fashion-MNIST embeddings without a quantisation term
# ---------------------------------------------------------------------------


def _train_embedding(X, y, K, seed, epochs, batch_size=256):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(X.shape[1], 512), nn.ReLU(), nn.Linear(512, K))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt = torch.as_tensor(X)
    yt = torch.as_tensor(y)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(Xt), generator=g)
        for start in range(0, len(Xt), batch_size):
            idx = order[start:start + batch_size]
            u = nn.functional.normalize(net(Xt[idx]), dim=1)
            cos = u @ u.T
            same = (yt[idx, None] == yt[None, idx]).float()
            off = ~torch.eye(len(idx), dtype=torch.bool)
            # Cosine 1 within a class, 0 across: a similarity loss only, no
            # pull towards binary values.
            loss = ((cos - same)[off] ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()

    def embed(A):
        with torch.no_grad():
            return net(torch.as_tensor(A)).numpy()

    return embed


def fmnist(dims, seeds, n_train, n_query, epochs, paper):
    from sklhash.datasets import load_fashion_mnist

    X, y = load_fashion_mnist("train", return_X_y=True)
    Xq, yq = load_fashion_mnist("test", return_X_y=True)
    sub = np.random.RandomState(0).permutation(len(X))[:n_train]
    X, y = X[sub], y[sub]
    q = np.random.RandomState(1).permutation(len(Xq))[:n_query]
    Xq, yq = Xq[q], yq[q]
    rows = []
    for K in dims:
        for seed in seeds:
            t0 = time.perf_counter()
            embed = _train_embedding(X, y, K, seed, epochs)
            t_net = time.perf_counter() - t0
            Z, Zq = embed(X), embed(Xq)
            float_map = mean_average_precision(Zq, Z, yq, y, k=1000, metric="cosine")
            methods = _methods(paper=paper and seed == seeds[0], hasher_itq=True)
            for name, method in methods.items():
                encode, t, extra = method(Z, seed)
                V, Vq = encode(Z), encode(Zq)
                codes, codes_q = np.packbits(V > 0, axis=1), np.packbits(Vq > 0, axis=1)
                m = mean_average_precision(codes_q, codes, yq, y, k=1000)
                rows.append({
                    "K": K, "seed": seed, "method": name, "fit_s": t,
                    "map1000": m, "float_map1000": float_map,
                    "train_err": _qerr(V), "net_s": t_net, **extra,
                })
                print(f"fmnist K={K} seed={seed} {name:40s} mAP@1000={m:.4f} "
                      f"(float {float_map:.4f}) err={rows[-1]['train_err']:.4f} "
                      f"fit={t:.2f}s", flush=True)
    return rows


# ---------------------------------------------------------------------------
# (c) fit time on 60,000 x 64
# ---------------------------------------------------------------------------


def fit_time(n, K, epochs, paper):
    from sklhash.datasets import load_fashion_mnist

    X, y = load_fashion_mnist("train", return_X_y=True)
    X, y = X[:n], y[:n]
    sub = np.random.RandomState(0).permutation(len(X))[:20000]
    embed = _train_embedding(X[sub], y[sub], K, 0, epochs)
    Z = embed(X).astype(np.float32)
    rows = []
    configs = {"default (plateau, patience 10)": {}}
    if paper:
        configs["paper (300 epochs, constant)"] = dict(
            n_iter_no_change=None, lr_schedule="constant", max_epochs=300)
    for name, params in configs.items():
        est = HouseholderQuantizer(random_state=0, **params)
        est, t = _timed(lambda est=est: est.fit(Z))
        rows.append({"n": len(Z), "K": K, "config": name, "loss": "l2",
                     "fit_s": t, "epochs": est.n_iter_,
                     "err": _qerr(est.decision_function(Z))})
        print(rows[-1], flush=True)
    (R, _), t = _timed(lambda: itq_rotation(_rescale_rows(Z), n_iter=50,
                                            random_state=0))
    rows.append({"n": len(Z), "K": K, "config": "ITQ (sklhash, 50 iter)",
                 "loss": "l2", "fit_s": t, "epochs": 50,
                 "err": _qerr(_rescale_rows(Z) @ R)})
    print(rows[-1], flush=True)
    return rows


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


def _table(rows, group, value, fmt="{:.4f}"):
    """Markdown table: methods x group values, mean +- std over seeds."""
    groups = sorted({r[group] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = ["| method | " + " | ".join(f"{group}={g}" for g in groups) + " |",
             "|---" * (len(groups) + 1) + "|"]
    for m in methods:
        cells = []
        for g in groups:
            vals = [r[value] for r in rows if r["method"] == m and r[group] == g]
            if len(vals) > 1:
                mean, std = fmt.format(np.mean(vals)), fmt.format(np.std(vals))
                cells.append(f"{mean} ± {std}")
            else:
                cells.append(fmt.format(vals[0]))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _diff_table(rows, reference, value="map1000"):
    """Householder minus a reference method, per seed, mean +- std."""
    groups = sorted({r["K"] for r in rows})
    lines = ["| Householder loss | " + " | ".join(
        f"K={g}: − {reference}" for g in groups) + " |",
        "|---" * (len(groups) + 1) + "|"]
    for loss in LOSSES:
        cells = []
        for g in groups:
            d = []
            for r in rows:
                if r["method"] == f"Householder {loss}" and r["K"] == g:
                    ref = [s[value] for s in rows if s["method"] == reference
                           and s["K"] == g and s["seed"] == r["seed"]][0]
                    d.append(r[value] - ref)
            cells.append(f"{np.mean(d):+.4f} ± {np.std(d):.4f}")
        lines.append(f"| {loss} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["planted", "fmnist", "fit_time", "all"],
                        default="all")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--paper", action="store_true",
                        help="also run the paper's 300-epoch constant-step protocol")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="bench_quantization.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    results = {}
    if args.part in ("planted", "all"):
        results["planted"] = planted(
            dims=[16] if args.quick else [16, 32, 64],
            n=2000 if args.quick else 20000, noise=0.3,
            seeds=[0] if args.quick else [0, 1, 2], paper=args.paper)
        print("\n## Planted rotation: held-out quantisation error per bit\n")
        print(_table(results["planted"], "K", "test_err"))
        print("\nfloor (planted codes):", _table(
            [dict(r, method="floor") for r in results["planted"]
             if r["method"] == "sign"], "K", "floor"))
        print("\n## Planted rotation: fit time (s)\n")
        print(_table(results["planted"], "K", "fit_s", "{:.2f}"))
    if args.part in ("fmnist", "all"):
        results["fmnist"] = fmnist(
            dims=[32] if args.quick else [32, 64],
            seeds=[0] if args.quick else [0, 1, 2],
            n_train=3000 if args.quick else 20000,
            n_query=300 if args.quick else 1000,
            epochs=2 if args.quick else 10, paper=args.paper)
        rows = results["fmnist"]
        print("\n## Fashion-MNIST embeddings: mAP@1000\n")
        print(_table(rows, "K", "map1000"))
        print("\nfloat (cosine) mAP@1000:", _table(
            [dict(r, method="float") for r in rows if r["method"] == "sign"],
            "K", "float_map1000"))
        print("\n## Householder minus sign / ITQ, mAP@1000 (paired by seed)\n")
        print(_diff_table(rows, "sign"))
        print()
        print(_diff_table(rows, "ITQ (sklhash)"))
        print("\n## Fashion-MNIST embeddings: quantisation error per bit\n")
        print(_table(rows, "K", "train_err"))
        print("\n## Fashion-MNIST embeddings: fit time (s)\n")
        print(_table(rows, "K", "fit_s", "{:.2f}"))
    if args.part in ("fit_time", "all"):
        results["fit_time"] = fit_time(
            n=6000 if args.quick else 60000, K=64, epochs=1 if args.quick else 5,
            paper=args.paper)
        print("\n## Fit time, HouseholderQuantizer on n x 64\n")
        print("| config | n | fit (s) | epochs | error per bit |")
        print("|---|---|---|---|---|")
        for r in results["fit_time"]:
            print(f"| {r['config']} | {r['n']} | {r['fit_s']:.1f} | {r['epochs']} "
                  f"| {r['err']:.4f} |")
    with open(args.out, "w") as f:
        json.dump({"threads": args.threads, "cpu_count": os.cpu_count(),
                   "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
