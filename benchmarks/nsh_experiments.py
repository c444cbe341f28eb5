"""NSH research loop: plain torch training on a Fashion-MNIST subset.

Reproduces the experiment log of docs/nsh.md. One configuration per call:

    OMP_NUM_THREADS=1 python benchmarks/nsh_experiments.py --method nsh \
        --bits 32 --epochs 10 --warmup 3 --m 8 --tag name

Database = the first ``--n-db`` training images, queries = the first
``--n-query`` test images; mAP@1000 with Hamming ranking (ties broken by
database order), AP normalised by min(R, 1000). ITQ on the raw pixels of the
same split is printed with ``--method itq``.
"""

import argparse
import gzip
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sklhash.nn._ste import sign_ste
from sklhash.nn.augment import image_views
from sklhash.nn.losses import sorted_nce_loss

ROOT = "/usr/share/datasets/fashion-mnist"


def load(split):
    with gzip.open(f"{ROOT}/{split}-images-idx3-ubyte.gz") as f:
        X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(f"{ROOT}/{split}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return X.astype(np.float32) / 255.0, y.astype(np.int64)


def map_at_k(q_codes, db_codes, q_y, db_y, k=1000):
    """mAP@k with Hamming ranking on {0,1} int codes."""
    q = torch.as_tensor(q_codes, dtype=torch.float32) * 2 - 1
    d = torch.as_tensor(db_codes, dtype=torch.float32) * 2 - 1
    dist = -(q @ d.T)  # monotone in Hamming distance
    # Stable: ties keep database order.
    order = np.argsort(dist.numpy(), axis=1, kind="stable")[:, :k]
    rel = (db_y[order] == q_y[:, None]).astype(np.float64)
    R = np.bincount(db_y, minlength=q_y.max() + 1)[q_y]
    prec = np.cumsum(rel, axis=1) / np.arange(1, k + 1)
    ap = (prec * rel).sum(1) / np.minimum(R, k)
    return float(ap.mean())


def map_float(q, d, q_y, db_y, k=1000):
    q = F.normalize(torch.as_tensor(q), dim=1)
    d = F.normalize(torch.as_tensor(d), dim=1)
    order = torch.topk(q @ d.T, k, dim=1).indices.numpy()
    rel = (db_y[order] == q_y[:, None]).astype(np.float64)
    R = np.bincount(db_y, minlength=q_y.max() + 1)[q_y]
    prec = np.cumsum(rel, axis=1) / np.arange(1, k + 1)
    return float(((prec * rel).sum(1) / np.minimum(R, k)).mean())


class Net(nn.Module):
    def __init__(self, bits, latent_dim=128, width=32, hidden=256):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(2 * width * 16, hidden), nn.ReLU(),
        )
        self.code = nn.Linear(hidden, bits)
        self.latent = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(),
                                    nn.Linear(hidden, latent_dim))

    def forward(self, x):
        h = self.trunk(x.view(-1, 1, 28, 28))
        return self.code(h), self.latent(h)


def info_nce(a, b, tau):
    """SimCLR NT-Xent over 2n views."""
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    z = torch.cat([a, b])
    n = a.shape[0]
    sim = z @ z.T / tau
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, target)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--method", default="nsh")  # nsh | cib | itq | simclr
    p.add_argument("--bits", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--m", type=int, default=8)
    p.add_argument("--tau", type=float, default=0.3)
    p.add_argument("--tau-sort", type=float, default=None)
    p.add_argument("--aux", type=float, default=1.0)  # InfoNCE on z weight
    p.add_argument("--aux-after", type=float, default=None)  # aux weight after warm-up
    p.add_argument("--aux-code", type=float, default=0.0)  # InfoNCE on tanh codes
    p.add_argument("--snce", type=float, default=1.0)
    p.add_argument("--sym", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--crop", type=float, default=0.5)
    p.add_argument("--flip", type=float, default=0.5)
    p.add_argument("--jitter", type=float, default=0.4)
    p.add_argument("--kl", type=float, default=0.001)
    p.add_argument("--n-db", type=int, default=20000)
    p.add_argument("--n-query", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=2)
    p.add_argument("--tag", default="")
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    Xtr, ytr = load("train")
    Xte, yte = load("t10k")
    Xdb, ydb = Xtr[: args.n_db], ytr[: args.n_db]
    Xq, yq = Xte[: args.n_query], yte[: args.n_query]
    t0 = time.time()
    if args.method == "itq":
        from sklhash.hashers.classic import ITQHasher, LSHHasher, PCAHasher
        for cls in (LSHHasher, PCAHasher, ITQHasher):
            kw = {} if cls is PCAHasher else {"random_state": 0}
            h = cls(bits=args.bits, **kw).fit(Xdb)
            dbc = h.decision_function(Xdb) > 0
            qc = h.decision_function(Xq) > 0
            print(cls.__name__, args.bits, round(map_at_k(qc, dbc, yq, ydb), 4))
        return
    net = Net(args.bits)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=1e-5)
    g = torch.Generator().manual_seed(args.seed)
    X = torch.as_tensor(Xdb)

    def view(xb):
        return image_views(xb.view(-1, 1, 28, 28), crop_scale=(args.crop, 1.0),
                           flip=args.flip, brightness=args.jitter,
                           contrast=args.jitter, generator=g)

    def evaluate():
        net.eval()
        with torch.no_grad():
            hd, zd = zip(*[net(X[i:i + 2000]) for i in range(0, len(X), 2000)])
            hq, zq = net(torch.as_tensor(Xq))
        net.train()
        hd, zd = torch.cat(hd), torch.cat(zd)
        if args.method == "cib":
            hd, hq = hd, hq  # logits: bit = logit > 0
        mc = map_at_k((hq > 0).numpy(), (hd > 0).numpy(), yq, ydb)
        mz = map_float(zq, zd, yq, ydb)
        bal = float((hd > 0).float().mean())
        return mc, mz, bal

    log = []
    for epoch in range(args.epochs):
        perm = torch.randperm(len(X), generator=g)
        tot = 0.0
        te = time.time()
        for s in range(0, len(X) - args.batch + 1, args.batch):
            xb = X[perm[s:s + args.batch]]
            x1, x2 = view(xb), view(xb)
            h1, z1 = net(x1)
            h2, z2 = net(x2)
            if args.method == "nsh":
                w = args.aux
                if epoch >= args.warmup and args.aux_after is not None:
                    w = args.aux_after
                loss = w * info_nce(z1, z2, 0.2) if w else 0.0
                if epoch >= args.warmup:
                    b1, b2 = sign_ste(torch.tanh(h1)), sign_ste(torch.tanh(h2))
                    loss = loss + args.snce * sorted_nce_loss(
                        b1, b2, z1, z2, n_positives=args.m, temperature=args.tau,
                        sort_temperature=args.tau_sort, symmetric=bool(args.sym))
                    if args.aux_code:
                        loss = loss + args.aux_code * info_nce(
                            torch.tanh(h1), torch.tanh(h2), args.tau)
            elif args.method == "cib":
                # CIBHash: stochastic binary codes (Bernoulli, straight-through),
                # NT-Xent between the two views' codes + beta * KL to Bern(0.5).
                p1, p2 = torch.sigmoid(h1), torch.sigmoid(h2)
                u1 = torch.rand(p1.shape, generator=g)
                u2 = torch.rand(p2.shape, generator=g)
                c1 = p1 + ((u1 < p1).float() - p1).detach()
                c2 = p2 + ((u2 < p2).float() - p2).detach()
                loss = info_nce(2 * c1 - 1, 2 * c2 - 1, args.tau)
                kl = lambda p: (p * torch.log(2 * p + 1e-8)
                                + (1 - p) * torch.log(2 * (1 - p) + 1e-8)).sum(1).mean()
                loss = loss + args.kl * 0.5 * (kl(p1) + kl(p2))
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss)
        rec = {"epoch": epoch + 1, "loss": round(tot / (len(X) // args.batch), 4),
               "sec": round(time.time() - te, 1)}
        if (epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs:
            mc, mz, bal = evaluate()
            rec.update(map_code=round(mc, 4), map_z=round(mz, 4), bit_mean=round(bal, 3))
        log.append(rec)
        print(json.dumps(rec), flush=True)
    print("RESULT", json.dumps({**vars(args), **log[-1],
                                "total_sec": round(time.time() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
