"""Binary codes for sentence embeddings: neighbour recall of every binariser.

For each binariser and code length, on a corpus of MiniLM sentence embeddings
(384-d, unit length): recall@10 of the exact cosine top-10 (ties in the code
ranking averaged exactly) with plain Hamming search, asymmetric search (the
query's projected float values against the stored bits) and Hamming search
rescored x4 (top 40 candidates re-ranked by cosine); fit and encode seconds;
bytes per item. Database and queries are disjoint random draws (seed 0); the
binarisers are fitted on the database embeddings alone (no labels).

Corpora (``--corpus``):

* ``gloss``: :func:`sklhash.datasets.load_wordnet_gloss_embeddings` (the
  117,659 WordNet glosses; built once and cached). ``--embeddings FILE.npy``
  reads an (n, d) float array instead (e.g. a part of the corpus).
* ``examples``: the usage examples of WordNet synsets (a different kind of
  text: short sentences, not definitions), embedded here with the same
  MiniLM and cached under the data home.

Run (each writes a JSON record and prints a markdown table)::

    OMP_NUM_THREADS=1 python benchmarks/bench_embeddings.py --corpus gloss
    OMP_NUM_THREADS=1 python benchmarks/bench_embeddings.py --corpus examples \\
        --n-db 5000 --n-query 500
    OMP_NUM_THREADS=1 python benchmarks/bench_embeddings.py --fit-timing
    OMP_NUM_THREADS=1 python benchmarks/bench_embeddings.py --semantic-kl
    OMP_NUM_THREADS=1 python benchmarks/bench_embeddings.py --tried --corpus gloss
    OMP_NUM_THREADS=1 python benchmarks/bench_embeddings.py --tried --corpus examples
    OMP_NUM_THREADS=1 python benchmarks/bench_embeddings.py --corpus gloss \\
        --n-db 200000 --methods sign embedding --bits 256 384 --asym-rescore
    python benchmarks/bench_embeddings.py --plot REC.json [REC2.json ...]

``--tried`` runs the attempts to beat the linear rotation (issue 21's
targets) on a 20,000 x 1,000 sample: float ceilings of a PCA projection,
ITQ on re-scaled principal coordinates, more ITQ iterations, a
neighbour-preserving head (linear or MLP, torch) initialised at the rotation,
and a CroVCA-style MLP head; see ``docs/embeddings.md``, "What we tried".
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from sklhash import (
    CenteredSignHasher,
    EmbeddingHasher,
    ITQHasher,
    LSHHasher,
    PCAHasher,
    SignHasher,
)
from sklhash.datasets import get_data_home
from sklhash.metrics import exact_neighbors, recall_at_k


def _householder(bits, seed):
    from sklhash import HouseholderQuantizer

    return HouseholderQuantizer(bits=bits, projection="pca", max_epochs=20,
                                random_state=seed)


METHODS = {
    # sign and centred sign take the first `bits` dimensions (truncation)
    "sign": lambda b, s: SignHasher(bits=b),
    "centered-sign": lambda b, s: CenteredSignHasher(bits=b),
    "lsh": lambda b, s: LSHHasher(bits=b, random_state=s),
    "pcah": lambda b, s: PCAHasher(bits=b),
    "itq": lambda b, s: ITQHasher(bits=b, random_state=s),
    "pca-householder": _householder,
    "embedding": lambda b, s: EmbeddingHasher(bits=b, random_state=s),
}


def load_examples(n, seed=0):
    """MiniLM embeddings of ``n`` random WordNet usage examples (cached)."""
    from sklhash.similarity import SentenceEncoder, load_wordnet

    path = get_data_home() / f"wordnet_example_embeddings_{n}_{seed}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    wn = load_wordnet()
    texts = sorted({e for s in wn.all_synsets() for e in s.examples()})
    rng = np.random.default_rng(seed)
    pick = [texts[i] for i in np.sort(rng.choice(len(texts), n, replace=False))]
    t0 = time.perf_counter()
    X = SentenceEncoder().encode(pick)
    print(f"encoded {n} examples (of {len(texts)}) in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, X, allow_pickle=False)
    os.replace(tmp, path)
    return X


def run(X, corpus, n_db, n_query, bits_list, methods, k, factor, seed,
        asym_rescore=False):
    rng = np.random.default_rng(seed)
    n_db = min(n_db, len(X) - n_query)
    perm = rng.permutation(len(X))
    Xq, Xd = X[perm[:n_query]], X[perm[n_query:n_query + n_db]]
    # The exact cosine top-k, once for every method.
    ref = exact_neighbors(Xq, Xd, k=k)
    rows = []
    for bits in bits_list:
        for name in methods:
            if bits > X.shape[1]:
                continue
            h = METHODS[name](bits, seed)
            t0 = time.perf_counter()
            h.fit(Xd)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            cd = h.transform(Xd)
            enc_s = time.perf_counter() - t0
            cq = h.transform(Xq)
            vq = h.decision_function(Xq)
            row = {
                "method": name, "bits": bits, "bytes": cd.shape[1],
                "fit_s": round(fit_s, 2),
                "encode_s_per_10k": round(enc_s / len(Xd) * 1e4, 3),
                "plain": recall_at_k(cq, cd, reference=ref, k=k),
                "asymmetric": recall_at_k(vq, cd, reference=ref, k=k,
                                          search="asymmetric"),
                "rescored": recall_at_k(cq, cd, reference=ref, k=k, rescore=factor),
            }
            if asym_rescore:
                # the float query's asymmetric top candidates, re-ranked
                row["asymmetric_rescored"] = recall_at_k(
                    vq, cd, Xq, Xd, reference=ref, k=k, search="asymmetric",
                    rescore=factor)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return {
        "corpus": corpus, "n_db": len(Xd), "n_query": len(Xq), "dim": X.shape[1],
        "k": k, "rescore": factor, "seed": seed,
        "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "load_avg": os.getloadavg()[0], "machine": platform.processor() or "cpu",
        "rows": rows,
    }


def table(rec):
    out = [f"{rec['corpus']}: {rec['n_db']} database x {rec['n_query']} queries, "
           f"recall@{rec['k']} (rescored: top {rec['rescore']}x{rec['k']} by cosine)",
           "",
           "| method | bits | bytes | plain | asymmetric | rescored | fit s "
           "| encode s/10k |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rec["rows"]:
        out.append(f"| {r['method']} | {r['bits']} | {r['bytes']} | {r['plain']:.3f} "
                   f"| {r['asymmetric']:.3f} | {r['rescored']:.3f} | {r['fit_s']} "
                   f"| {r['encode_s_per_10k']} |")
    return "\n".join(out)


def fit_timing(n=100_000, seed=0):
    """Fit seconds on n x 384 random unit vectors (timing only: no recall)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 384)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    out = {}
    for name, make in [("embedding-128", lambda: EmbeddingHasher(128, random_state=0)),
                       ("embedding-384", lambda: EmbeddingHasher(384, random_state=0)),
                       ("itq-128", lambda: ITQHasher(128, random_state=0)),
                       ("pcah-128", lambda: PCAHasher(128)),
                       ("centered-sign", lambda: CenteredSignHasher())]:
        t0, c0 = time.perf_counter(), time.process_time()
        make().fit(X)
        out[name] = {"wall_s": round(time.perf_counter() - t0, 1),
                     "cpu_s": round(time.process_time() - c0, 1)}
        print(name, out[name], file=sys.stderr, flush=True)
    out["threads"] = os.environ.get("OMP_NUM_THREADS", "unset")
    out["load_avg"] = os.getloadavg()[0]
    return out


def plot(records, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(records), figsize=(6 * len(records), 4.5),
                             squeeze=False)
    for ax, rec in zip(axes[0], records, strict=True):
        for name in dict.fromkeys(r["method"] for r in rec["rows"]):
            rows = sorted((r for r in rec["rows"] if r["method"] == name),
                          key=lambda r: r["bytes"])
            b = [r["bytes"] for r in rows]
            color = f"C{list(METHODS).index(name)}"  # same colour in every panel
            ax.plot(b, [r["plain"] for r in rows], "o-", color=color, label=name)
            ax.plot(b, [r["rescored"] for r in rows], "s--", color=color, alpha=0.6)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("bytes per item")
        ax.set_ylabel(f"recall@{rec['k']}")
        ax.set_title(f"{rec['corpus']} ({rec['n_db']} db; dashed: rescored "
                     f"x{rec['rescore']:g})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def semantic_kl_check(X, n=1773, seed=0):
    """SemanticKLHasher with EmbeddingSimilarity targets: raw vs standardised.

    Leave-one-out recall@10 on ``n`` random rows of ``X`` (torch, 1 thread).
    """
    import torch
    from sklearn.preprocessing import StandardScaler

    from sklhash.hashers.semantic_kl import SemanticKLHasher
    from sklhash.similarity import EmbeddingSimilarity

    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float64)[rng.choice(len(X), n, replace=False)]
    ref = exact_neighbors(X, X, k=10, exclude_self=True)

    def recall(h, Z):
        c = h.transform(Z)
        return recall_at_k(c, c, reference=ref, k=10, exclude_self=True)

    Xs = StandardScaler().fit_transform(X)
    Xc = X - X.mean(axis=0)
    idx = np.arange(n)
    out = []
    runs = [("raw", X, EmbeddingSimilarity(X), {}, 32, 10),
            ("standardised", Xs, EmbeddingSimilarity(X), {}, 32, 10),
            ("standardised", Xs, EmbeddingSimilarity(X), {}, 32, 40),
            ("standardised, centred rescaled targets", Xs,
             EmbeddingSimilarity(Xc, kind="rescaled"), {}, 32, 10),
            ("standardised, absolute loss", Xs, EmbeddingSimilarity(Xc),
             {"similarity_loss": "absolute"}, 32, 10),
            ("standardised", Xs, EmbeddingSimilarity(X), {}, 128, 10),
            ("standardised", Xs, EmbeddingSimilarity(X), {}, 128, 40)]
    for name, Z, sim, kw, bits, epochs in runs:
        t0 = time.perf_counter()
        # lr_schedule pinned to the constant rate these rows were measured
        # with (since then, "auto" decays the rate in fits of >= 1,000 steps).
        h = SemanticKLHasher(bits=bits, similarity=sim, max_epochs=epochs,
                             lr_schedule="constant", random_state=seed,
                             **kw).fit(Z, idx)
        row = {"input": name, "bits": bits, "epochs": epochs,
               "recall": recall(h, Z), "fit_s": time.perf_counter() - t0,
               "itq": recall(ITQHasher(bits, random_state=seed).fit(X), X)}
        out.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return {"n": n, "rows": out, "threads": os.environ.get("OMP_NUM_THREADS")}


def _scores(vq, vd, Xq, Xd, ref, k, factor):
    """Plain, asymmetric, rescored and asymmetric + rescored recall@k."""
    from sklhash.codes import pack_codes

    vq = np.asarray(vq, dtype=np.float64)
    cq, cd = pack_codes(vq > 0), pack_codes(np.asarray(vd) > 0)
    return {
        "plain": recall_at_k(cq, cd, reference=ref, k=k),
        "asymmetric": recall_at_k(vq, cd, reference=ref, k=k, search="asymmetric"),
        "rescored": recall_at_k(cq, cd, Xq, Xd, reference=ref, k=k, rescore=factor),
        "asymmetric_rescored": recall_at_k(vq, cd, Xq, Xd, reference=ref, k=k,
                                           search="asymmetric", rescore=factor),
    }


def neighbour_head(Xd, bits, seed, *, hidden=0, epochs=5, n_neighbors=48,
                   tau=0.02, kappa=40.0, n_anchors=64, n_random=8, lr=1e-3):
    """A head trained to make code similarity reproduce cosine neighbourhoods.

    Starts exactly at EmbeddingHasher (a linear layer holding its centring,
    PCA and rotation; with ``hidden``, plus an MLP branch whose last layer is
    zero). Each batch holds ``n_anchors`` anchors, their exact top
    ``n_neighbors`` cosine neighbours and ``n_random`` random rows per
    anchor; the loss is the cross-entropy between softmax(cos / tau) over the
    batch and softmax(kappa * code similarity), code similarity being the
    mean product of sign codes with a tanh straight-through gradient (so the
    forward pass is the Hamming similarity itself). Returns the encoder
    (embeddings -> float values; bits are values > 0).
    """
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    eh = EmbeddingHasher(bits, random_state=seed).fit(Xd)
    W0 = (eh.components_.T @ eh.rotation_).astype(np.float32)
    W0 /= ((Xd - eh.mean_) @ W0).std()  # unit-scale values for the tanh
    mean = eh.mean_.astype(np.float32)
    Xn = Xd / np.linalg.norm(Xd, axis=1, keepdims=True)
    nbr = exact_neighbors(Xn, Xn, k=n_neighbors, exclude_self=True)
    lin = torch.nn.Linear(Xd.shape[1], bits)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W0.T.copy()))
        lin.bias.copy_(torch.from_numpy(-(mean @ W0)))
    mlp = None
    params = list(lin.parameters())
    if hidden:
        mlp = torch.nn.Sequential(torch.nn.Linear(Xd.shape[1], hidden), torch.nn.GELU(),
                                  torch.nn.Linear(hidden, bits))
        torch.nn.init.zeros_(mlp[2].weight)
        torch.nn.init.zeros_(mlp[2].bias)
        params += list(mlp.parameters())

    def net(x):
        return lin(x) + mlp(x) if mlp is not None else lin(x)

    opt = torch.optim.Adam(params, lr=lr)
    XT = torch.from_numpy(np.ascontiguousarray(Xn, dtype=np.float32))
    n = len(Xd)
    for _ in range(epochs):
        perm = rng.permutation(n)
        for s in range(0, n - n_anchors + 1, n_anchors):
            anc = perm[s:s + n_anchors]
            rows = np.unique(np.concatenate(
                [anc, nbr[anc].ravel(), rng.choice(n, n_anchors * n_random)]))
            pos = torch.from_numpy(np.searchsorted(rows, anc))
            xb = XT[rows]
            cos = xb[pos] @ xb.T
            self_mask = torch.zeros_like(cos, dtype=torch.bool)
            self_mask[torch.arange(len(pos)), pos] = True
            target = torch.softmax((cos / tau).masked_fill(self_mask, -1e9), 1)
            z = net(xb)
            t = torch.tanh(z)
            b = torch.sign(z) + t - t.detach()  # sign forward, tanh backward
            sim = b[pos] @ b.T / bits
            logq = torch.log_softmax((kappa * sim).masked_fill(self_mask, -1e9), 1)
            loss = -(target * logq).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    def encode(X):
        with torch.no_grad():
            Z = np.ascontiguousarray(X, dtype=np.float32)
            return net(torch.from_numpy(Z)).numpy()

    return encode


def crovca_head(Xd, bits, seed, *, hidden=1024, epochs=20, noise=0.2, lam=0.2,
                eps=0.5, lr=1e-3, batch_size=256):
    """A CroVCA-style head (the 2025 CroVCA paper, cross-view code alignment,
    as cited in issue 21): MLP + batch norm, trained so the
    codes of two views agree (binary cross-entropy against the other view's
    bits) while a coding-rate term keeps the code space spread. The views of
    a stored embedding are Gaussian noise in standardised coordinates: with
    the embeddings alone there is no input to augment."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean, std = Xd.mean(0), Xd.std(0)
    std[std < 1e-6] = 1.0  # MiniLM has three dead (constant ~0) dimensions
    Xs = torch.from_numpy(((Xd - mean) / std).astype(np.float32))
    net = torch.nn.Sequential(torch.nn.Linear(Xd.shape[1], hidden), torch.nn.GELU(),
                              torch.nn.Linear(hidden, bits),
                              torch.nn.BatchNorm1d(bits, affine=False))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def rate(Z):
        m, d = Z.shape
        return 0.5 * torch.logdet(torch.eye(d) + d / (m * eps ** 2) * Z.T @ Z) / d

    for _ in range(epochs):
        perm = torch.from_numpy(rng.permutation(len(Xs)))
        for s in range(0, len(Xs) - batch_size + 1, batch_size):
            x = Xs[perm[s:s + batch_size]]
            z1 = net(x + noise * torch.randn_like(x))
            z2 = net(x + noise * torch.randn_like(x))
            loss = 0.5 * (bce(z1, (z2 > 0).float().detach())
                          + bce(z2, (z1 > 0).float().detach()))
            loss = loss - lam * 0.5 * (rate(torch.tanh(z1)) + rate(torch.tanh(z2)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()

    def encode(X):
        with torch.no_grad():
            Z = ((X - mean) / std).astype(np.float32)
            return net(torch.from_numpy(Z)).numpy()

    return encode


def _sample_and_scorer(X, n_db, n_query, k, factor, seed):
    """The random query / database sample, its exact top-k, and an
    ``add(method, bits, make)`` that fits ``make()`` (an encoder of float
    rows), scores it and keeps the row in ``rows``."""
    rng = np.random.default_rng(seed)
    n_db = min(n_db, len(X) - n_query)
    perm = rng.permutation(len(X))
    Xq = np.asarray(X[perm[:n_query]], dtype=np.float32)
    Xd = np.asarray(X[perm[n_query:n_query + n_db]], dtype=np.float32)
    ref = exact_neighbors(Xq, Xd, k=k)
    rows = []

    def add(method, bits, make, **extra):
        c0 = time.process_time()
        enc = make()
        cpu = time.process_time() - c0
        row = {"method": method, "bits": bits, "fit_cpu_s": round(cpu, 1), **extra,
               **_scores(enc(Xq), enc(Xd), Xq, Xd, ref, k, factor)}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    return Xq, Xd, ref, rows, add


def tried(X, corpus, n_db=20000, n_query=1000, k=10, factor=4, seed=0):
    """The attempts to beat EmbeddingHasher, beside sign and EmbeddingHasher."""
    from sklhash.hashers.classic import itq_rotation

    Xq, Xd, ref, rows, add = _sample_and_scorer(
        X, n_db, n_query, k, factor, seed)

    def eh(bits, **kw):
        h = EmbeddingHasher(bits, random_state=seed, **kw).fit(Xd)
        return h.decision_function

    add("sign", 384, lambda: lambda Z: Z)
    for bits in (128, 256, 384):
        add("EmbeddingHasher", bits, lambda b=bits: eh(b))
    # Float ceiling: cosine on the top principal coordinates, unquantised.
    for bits in (128, 256):
        h = EmbeddingHasher(bits, n_iter=0).fit(Xd)
        P = [(Z - h.mean_) @ h.components_.T for Z in (Xq, Xd)]
        P = [p / np.linalg.norm(p, axis=1, keepdims=True) for p in P]
        top = np.argsort(-(P[0] @ P[1].T), axis=1, kind="stable")[:, :k]
        hit = np.mean([len(set(a) & set(b)) / k for a, b in zip(top, ref, strict=True)])
        rows.append({"method": "float PCA (no quantisation)", "bits": bits,
                     "bytes": bits * 4, "plain": hit})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    # ITQ on principal coordinates scaled by variance^(-p/2) (p=1: whitened).
    for bits in (128, 384):
        for power in (0.5, 1.0):
            def make(b=bits, p=power):
                h = EmbeddingHasher(b, n_iter=0).fit(Xd)
                V = (Xd - h.mean_) @ h.components_.T
                sd = V.std(0)
                dead = sd < 1e-6 * sd.max()  # MiniLM's constant dimensions
                scale = np.where(dead, 0.0, np.maximum(sd, 1e-30) ** (-p))
                R, _ = itq_rotation(V * scale, n_iter=50, random_state=seed)
                W = (h.components_.T * scale) @ R
                return lambda Z: (Z - h.mean_) @ W
            add(f"ITQ on PCA scaled by var^-{power / 2:g}", bits, make)
    add("EmbeddingHasher n_iter=200", 384, lambda: eh(384, n_iter=200))
    for bits in (128, 384):
        add("neighbour head, linear", bits,
            lambda b=bits: neighbour_head(Xd, b, seed))
    add("neighbour head, linear, 15 epochs, lr 3e-3", 384,
        lambda: neighbour_head(Xd, 384, seed, epochs=15, lr=3e-3))
    add("neighbour head, MLP 1024", 384,
        lambda: neighbour_head(Xd, 384, seed, hidden=1024, n_neighbors=16,
                               tau=0.05, kappa=20.0, n_anchors=128, n_random=4))
    add("CroVCA-style head", 128, lambda: crovca_head(Xd, 128, seed))
    return {"corpus": corpus, "n_db": len(Xd), "n_query": len(Xq), "k": k,
            "rescore": factor, "seed": seed,
            "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            "load_avg": os.getloadavg()[0], "rows": rows}


def nsh_views(X, corpus, n_db=20000, n_query=1000, k=10, factor=4, seed=0,
              bits_list=(128, 384), epochs=10):
    """NSHasher trained on noisy views of the embeddings, beside sign and
    EmbeddingHasher on the sample of ``tried`` (same queries and database).

    The embeddings are standardised first (fitted on the database rows):
    NSHasher's MLP, like SemanticKLHasher's, barely moves on raw MiniLM
    coordinates, whose per-dimension spread is about 0.05. Its views are
    the ``"features"`` augmentation (Gaussian noise scaled per feature);
    ``latent_dim`` is at least ``bits`` so that the default latent codes
    (ITQ on the trained latents) exist at every width.
    """
    from sklearn.preprocessing import StandardScaler

    from sklhash import NSHasher

    Xq, Xd, _, rows, add = _sample_and_scorer(X, n_db, n_query, k, factor, seed)

    def nsh(bits):
        scaler = StandardScaler().fit(Xd)
        h = NSHasher(bits, latent_dim=max(128, bits), max_epochs=epochs,
                     random_state=seed).fit(scaler.transform(Xd))
        return lambda Z: h.decision_function(scaler.transform(Z))

    add("sign", 384, lambda: lambda Z: Z)
    for bits in bits_list:
        add("EmbeddingHasher", bits,
            lambda b=bits: EmbeddingHasher(b, random_state=seed).fit(Xd)
            .decision_function)
        add(f"NSHasher ({epochs} epochs, standardised input)", bits,
            lambda b=bits: nsh(b))
    return {"corpus": corpus, "n_db": len(Xd), "n_query": len(Xq), "k": k,
            "rescore": factor, "seed": seed, "epochs": epochs,
            "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            "load_avg": os.getloadavg()[0], "rows": rows}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", choices=["gloss", "examples"], default="gloss")
    p.add_argument("--embeddings", help="an (n, d) .npy file instead of the corpus")
    p.add_argument("--n-db", type=int, default=20000)
    p.add_argument("--n-query", type=int, default=1000)
    p.add_argument("--bits", type=int, nargs="+", default=[64, 128, 256, 384])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--rescore", type=float, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="JSON record to write")
    p.add_argument("--fit-timing", action="store_true")
    p.add_argument("--semantic-kl", action="store_true",
                   help="SemanticKLHasher raw vs standardised inputs")
    p.add_argument("--asym-rescore", action="store_true",
                   help="also score asymmetric search rescored (float rows needed)")
    p.add_argument("--tried", action="store_true",
                   help="the attempts to beat EmbeddingHasher (torch for the heads)")
    p.add_argument("--nsh", action="store_true",
                   help="NSHasher on noisy views of the embeddings (torch)")
    p.add_argument("--epochs", type=int, default=10, help="NSHasher epochs (--nsh)")
    p.add_argument("--plot", nargs="+", metavar="RECORD")
    p.add_argument("--plot-out", default="docs/images/embeddings_recall_bytes.png")
    a = p.parse_args(argv)
    if a.plot:
        plot([json.loads(Path(f).read_text()) for f in a.plot], a.plot_out)
        return
    if a.fit_timing:
        rec = fit_timing()
    elif a.semantic_kl:
        X = (np.load(a.embeddings, allow_pickle=False) if a.embeddings else None)
        if X is None:
            from sklhash.datasets import load_wordnet_gloss_embeddings

            X = load_wordnet_gloss_embeddings().data
        rec = semantic_kl_check(X, seed=a.seed)
    elif a.tried or a.nsh:
        if a.corpus == "gloss":
            from sklhash.datasets import load_wordnet_gloss_embeddings

            X = load_wordnet_gloss_embeddings().data
        else:
            X = load_examples(a.n_db + a.n_query, a.seed)
        if a.nsh:
            rec = nsh_views(X, a.corpus, a.n_db, a.n_query, a.k, a.rescore,
                            a.seed, bits_list=a.bits, epochs=a.epochs)
        else:
            rec = tried(X, a.corpus, a.n_db, a.n_query, a.k, a.rescore, a.seed)
    else:
        if a.embeddings:
            X = np.load(a.embeddings, allow_pickle=False)
        elif a.corpus == "gloss":
            from sklhash.datasets import load_wordnet_gloss_embeddings

            X = load_wordnet_gloss_embeddings().data
        else:
            X = load_examples(a.n_db + a.n_query, a.seed)
        rec = run(np.asarray(X, dtype=np.float32), a.corpus, a.n_db, a.n_query,
                  a.bits, a.methods, a.k, a.rescore, a.seed, a.asym_rescore)
        print(table(rec))
    if a.out:
        Path(a.out).write_text(json.dumps(rec, indent=1))


if __name__ == "__main__":
    main()
