"""NSH research loop: plain torch training on Fashion-MNIST, CPU or GPU.

Reproduces the experiment logs of docs/nsh.md. One configuration per call;
the network, views and losses are the library's own (``build_backbone("cnn")``
= :class:`sklhash.nn.backbones.SmallCNN` + a hidden layer, the two-view
module of NSHasher / CIBHasher, :func:`sorted_nce_loss`, :func:`nt_xent_loss`),
in a loop that evaluates every ``--eval-every`` epochs::

    python benchmarks/nsh_experiments.py --method nsh --bits 32 --epochs 30 \
        --warmup 5 --m 8 --batch 256 --device cuda --log runs.jsonl

Training set = the first ``--n-train`` training images; the codes are scored
against databases of the first ``--n-db`` training images (several sizes may
be given) with the first ``--n-query`` test images as queries: tie-exact
mAP@1000 of the codes (:func:`sklhash.metrics.mean_average_precision`) and,
as the ceiling the codes are sorted by, mAP@1000 of the latents by cosine.
``--method itq`` prints LSH / PCAH / ITQ on the raw pixels of the same split.
``--method simclr`` trains the latents alone (NT-Xent), to measure that
ceiling; ``--method cib`` is CIBHash.
"""

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from sklhash import ITQHasher
from sklhash.codes import pack_codes
from sklhash.datasets import load_fashion_mnist
from sklhash.metrics import mean_average_precision
from sklhash.nn._ste import sign_ste
from sklhash.nn._two_view import TwoViewHashModule
from sklhash.nn.augment import image_views
from sklhash.nn.backbones import SmallCNN, _mlp
from sklhash.nn.losses import cibhash_loss, nt_xent_loss, sorted_nce_loss


def latent_map(zq, zd, yq, yd, k=1000):
    """mAP@k of L2-normalised latents ranked by cosine (ties: top-k order)."""
    zq, zd = F.normalize(zq, dim=1), F.normalize(zd, dim=1)
    order = torch.topk(zq @ zd.T, k, dim=1).indices.cpu().numpy()
    rel = (yd[order] == yq[:, None]).astype(np.float64)
    R = np.bincount(yd, minlength=10)[yq]
    prec = np.cumsum(rel, axis=1) / np.arange(1, k + 1)
    return float(((prec * rel).sum(1) / np.minimum(R, k)).mean())


def build(args):
    cnn = SmallCNN(1, width=args.width)
    mlp, n_out = _mlp(cnn.n_out, (args.hidden,))
    backbone = torch.nn.Sequential(cnn, mlp)

    def augment(X):
        return image_views(X, crop_scale=(args.crop, 1.0), flip=0.5,
                           brightness=args.jitter, contrast=args.jitter)

    latent = None if args.method == "cib" else args.latent_dim
    return TwoViewHashModule(backbone, n_out, args.bits, augment, latent_dim=latent)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--method", default="nsh", choices=["nsh", "cib", "simclr", "itq"])
    p.add_argument("--bits", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--m", type=int, default=8)
    p.add_argument("--tau", type=float, default=0.3)
    p.add_argument("--tau-sort", type=float, default=None)
    p.add_argument("--aux", type=float, default=1.0, help="NT-Xent weight on z")
    p.add_argument("--aux-after", type=float, default=None,
                   help="NT-Xent weight once SortedNCE runs (default: --aux)")
    p.add_argument("--aux-tau", type=float, default=0.2)
    p.add_argument("--kl", type=float, default=0.001, help="CIBHash beta")
    p.add_argument("--cib-aux", type=float, default=0.0,
                   help="NSH + this weight x CIBHash's loss on the code head")
    p.add_argument("--cib-tau", type=float, default=0.5)
    p.add_argument("--distill", type=float, default=0.0,
                   help="NSH + this weight x MSE between the views' tanh-code "
                        "cosines and their (detached) latent cosines")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--cosine", action="store_true", help="cosine lr decay")
    p.add_argument("--crop", type=float, default=0.5)
    p.add_argument("--jitter", type=float, default=0.4)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--latent-dim", type=int, default=128)
    p.add_argument("--n-train", type=int, default=20000)
    p.add_argument("--n-db", type=int, nargs="+", default=[20000])
    p.add_argument("--n-query", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tag", default="")
    p.add_argument("--log", default=None, help="append JSON lines here")
    p.add_argument("--itq-eval", action="store_true",
                   help="also score ITQ codes fitted on the features and latents")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    Xtr, ytr = load_fashion_mnist("train", return_X_y=True)
    Xte, yte = load_fashion_mnist("test", return_X_y=True)
    Xq, yq = Xte[: args.n_query], yte[: args.n_query]

    def emit(rec):
        line = json.dumps({"tag": args.tag, **rec})
        print(line, flush=True)
        if args.log:
            with open(args.log, "a") as f:
                f.write(line + "\n")

    if args.method == "itq":
        from sklhash import LSHHasher, PCAHasher

        for n_db in args.n_db:
            for cls in (LSHHasher, PCAHasher, ITQHasher):
                kw = {} if cls is PCAHasher else {"random_state": args.seed}
                h = cls(bits=args.bits, **kw).fit(Xtr[:n_db])
                score = mean_average_precision(
                    h.transform(Xq), h.transform(Xtr[:n_db]), yq, ytr[:n_db], k=1000)
                emit({"method": cls.__name__, "bits": args.bits, "n_db": n_db,
                      "map_code": round(score, 4)})
        return

    net = build(args).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=1e-5)
    steps = args.epochs * (args.n_train // args.batch)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
             if args.cosine else None)
    X = torch.as_tensor(Xtr[: args.n_train].reshape(-1, 1, 28, 28), device=dev)
    Xall = torch.as_tensor(Xtr.reshape(-1, 1, 28, 28), device=dev)
    Xq_t = torch.as_tensor(Xq.reshape(-1, 1, 28, 28), device=dev)

    @torch.no_grad()
    def evaluate():
        net.eval()
        hs, zs, fs = [], [], []
        for i in range(0, max(*args.n_db, args.n_train), 4096):
            f = net.backbone(Xall[i : i + 4096])
            fs.append(f)
            hs.append(net.hash(f))
            if net.latent is not None:
                zs.append(net.latent(f))
        fq = net.backbone(Xq_t)
        hq = net.hash(fq)
        zq = net.latent(fq) if net.latent is not None else None
        net.train()
        hd = torch.cat(hs)
        rec = {"bit_mean": round(float((hd > 0).float().mean()), 3)}
        cq = pack_codes((hq > 0).cpu().numpy())
        cd = pack_codes((hd > 0).cpu().numpy())
        for n_db in args.n_db:
            rec[f"map_code_{n_db}"] = round(mean_average_precision(
                cq, cd[:n_db], yq, ytr[:n_db], k=1000), 4)
            if zq is not None:
                rec[f"map_z_{n_db}"] = round(latent_map(
                    zq, torch.cat(zs)[:n_db], yq, ytr[:n_db]), 4)
        if args.itq_eval:
            # Post-hoc codes: ITQ fitted on the training images' features (the
            # backbone output both heads read) and on their latents.
            spaces = {"f": (fq, torch.cat(fs))}
            if zq is not None:
                spaces["z"] = (zq, torch.cat(zs))
            for name, (q, d) in spaces.items():
                rec[f"map_{name}cos_{args.n_db[0]}"] = round(latent_map(
                    q, d[: args.n_db[0]], yq, ytr[: args.n_db[0]]), 4)
                q, d = q.cpu().numpy(), d.cpu().numpy()
                itq = ITQHasher(bits=args.bits, random_state=args.seed)
                itq.fit(d[: args.n_train])
                cq_, cd_ = itq.transform(q), itq.transform(d)
                for n_db in args.n_db:
                    rec[f"map_itq{name}_{n_db}"] = round(mean_average_precision(
                        cq_, cd_[:n_db], yq, ytr[:n_db], k=1000), 4)
        return rec

    t0 = time.time()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(X), device=dev)
        tot, n = 0.0, 0
        te = time.time()
        sorting = args.method == "nsh" and epoch >= args.warmup
        for s in range(0, len(X) - args.batch + 1, args.batch):
            h1, h2, z1, z2 = net.two_views(X[perm[s : s + args.batch]])
            if args.method == "cib":
                loss = cibhash_loss(h1, h2, args.tau, args.kl)
            else:
                w = args.aux
                if sorting and args.aux_after is not None:
                    w = args.aux_after
                loss = w * nt_xent_loss(z1, z2, args.aux_tau) if w else 0.0
                if sorting:
                    b1, b2 = sign_ste(torch.tanh(h1)), sign_ste(torch.tanh(h2))
                    loss = loss + sorted_nce_loss(
                        b1, b2, z1, z2, n_positives=args.m, temperature=args.tau,
                        sort_temperature=args.tau_sort, symmetric=True)
                    if args.cib_aux:
                        loss = loss + args.cib_aux * cibhash_loss(
                            h1, h2, args.cib_tau, args.kl)
                    if args.distill:
                        u1, u2 = torch.tanh(h1), torch.tanh(h2)
                        code_cos = u1 @ u2.T / args.bits
                        lat_cos = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T
                        loss = loss + args.distill * F.mse_loss(
                            code_cos, lat_cos.detach())
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            tot, n = tot + float(loss.detach()), n + 1
        rec = {"epoch": epoch + 1, "loss": round(tot / n, 4),
               "sec": round(time.time() - te, 1)}
        if (epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs:
            rec.update(evaluate())
        emit(rec)
    emit({"final": True, **vars(args), **rec, "total_sec": round(time.time() - t0, 1)})


if __name__ == "__main__":
    main()
