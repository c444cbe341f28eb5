"""Issue 24, third round: SemanticKL's CNN with a cosine rate decay (CPU).

Fashion-MNIST split of ``bench_semantic.py --database train`` (``n_train``
random training images = database, 1,000 random test queries), ``"cnn"``
backbone, 20 epochs, batch 256, one thread, seeds 0-2, against CSQ with its
defaults. Every configuration pins ``lr_schedule`` and ``ce_weight``, so it
reproduces its rows in ``cnn_cos_screen.jsonl`` on later commits too (a
rerun appends to ``cnn_cos_screen_rerun.jsonl``; the
CNN's ``lr`` and ``center_weight`` "auto" values, 1e-3 and 0, are those of
the runs).

    OMP_NUM_THREADS=1 python cnn_cos_screen.py NAME BITS SEEDS [N_TRAIN]

e.g. ``cnn_cos 16,32,64 0,1,2`` or ``cnn_const 32 0,1,2 3000``.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # benchmarks/

import torch  # noqa: E402
from bench_semantic import _float_columns, load_fashion_train_db  # noqa: E402

from sklhash import SemanticKLHasher  # noqa: E402
from sklhash.benchmark import BenchmarkData, run_benchmark  # noqa: E402
from sklhash.hashers.supervised import CSQHasher  # noqa: E402

C, K = "cosine", "constant"
CONFIGS = {
    # The CNN's values before this round: a constant rate, CE 0.3.
    "cnn_const": dict(lr_schedule=K, ce_weight=0.3),
    "cnn_cos": dict(lr_schedule=C, ce_weight=0.3),
    "cnn_cos_ce1": dict(lr_schedule=C, ce_weight=1.0),
    "cnn_cos_hier": dict(lr_schedule=C, ce_weight=0.3, hier=True),
    "cnn_cos_ce05_hier": dict(lr_schedule=C, ce_weight=0.5, hier=True),
    "csq": dict(cls="CSQ"),
}


def run(name, bits, seeds, n_train=10000):
    params = dict(CONFIGS[name])
    cls = CSQHasher if params.pop("cls", None) == "CSQ" else SemanticKLHasher
    Xtr, ytr, Xdb, ydb, Xq, yq, h = load_fashion_train_db(n_train, 1000)
    Xtr, Xdb, Xq = (A.reshape(-1, 1, 28, 28) for A in (Xtr, Xdb, Xq))
    if params.pop("hier", False):
        params["hierarchy"] = h
    kw = dict(
        backbone="cnn",
        hidden_layer_sizes=(512,),
        max_epochs=20,
        batch_size=256,
        device="cpu",
    )
    kw.update(params)

    def factory(b, s):
        return cls(bits=b, random_state=s, **kw)

    def progress(r):
        drop = ("params", "pr_precision", "pr_recall")
        r = {k: v for k, v in r.items() if k not in drop}
        r["config"], r["n_train"] = name, n_train
        with open(HERE / "cnn_cos_screen_rerun.jsonl", "a") as f:
            f.write(json.dumps(r) + "\n")

    data = BenchmarkData("fashion", Xtr, ytr, Xq, yq, X_db=Xdb, y_db=ydb, hierarchy=h)
    run_benchmark(
        data,
        [(name, factory)],
        bits=bits,
        seeds=seeds,
        progress=progress,
        extra_metrics=_float_columns,
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    bits = [int(b) for b in sys.argv[2].split(",")]
    seeds = [int(s) for s in sys.argv[3].split(",")]
    run(sys.argv[1], bits, seeds, int(sys.argv[4]) if len(sys.argv) > 4 else 10000)
