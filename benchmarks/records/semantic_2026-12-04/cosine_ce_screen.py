"""Issue 24, second round: the screen behind lr_schedule / ce_weight "auto".

Each configuration is SemanticKLHasher (or HashNet) on the Fashion-MNIST
split of ``bench_semantic.py --database train`` (``--n-train`` 10k or 20k,
1,000 queries, MLP 512, 20 epochs, batch 256) or on the 80-class gloss set
(MLP 1024, 30 epochs), one thread, seeds 0-2.

The rows in ``cosine_ce_screen.jsonl`` were produced before the defaults
changed, on db37eaf's parent, with a skorch ``LRScheduler(
CosineAnnealingLR, T_max=epochs)`` callback for "cosine"; the ``b64_*``
and ``lr*`` rows ran on db37eaf, whose defaults were cosine and CE 1 for
every MLP fit. The callback is bit-identical to ``lr_schedule="cosine"``
(checked on the 10k 16-bit seed-2 cell: mAP@1000 .7643239402891403 both
ways). This script pins ``lr_schedule`` and ``ce_weight`` in every
configuration, so it reproduces the rows on later commits too.

    OMP_NUM_THREADS=1 python cosine_ce_screen.py NAME [NAME ...]
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # benchmarks/

import torch  # noqa: E402
from bench_semantic import _float_columns, load_fashion_train_db, load_gloss  # noqa: E402

from sklhash import SemanticKLHasher  # noqa: E402
from sklhash.benchmark import BenchmarkData, run_benchmark  # noqa: E402
from sklhash.hashers.supervised import HashNetHasher  # noqa: E402

C, K = "cosine", "constant"
# name: (n_train or "gloss", bits, params)
CONFIGS = {
    "const_20k": (20000, [32], dict(lr_schedule=K, ce_weight=0.3)),
    "cos_20k": (20000, [32], dict(lr_schedule=C, ce_weight=0.3)),
    "cos_lr2e-3_20k": (20000, [32], dict(lr_schedule=C, ce_weight=0.3, lr=2e-3)),
    "cos_lr5e-3_20k": (20000, [32], dict(lr_schedule=C, ce_weight=0.3, lr=5e-3)),
    "cos_lr1e-2_20k": (20000, [32], dict(lr_schedule=C, ce_weight=0.3, lr=1e-2)),
    "cos_ep30_20k": (20000, [32], dict(lr_schedule=C, ce_weight=0.3, max_epochs=30)),
    "cos_ce1_20k": (20000, [16, 32, 64], dict(lr_schedule=C, ce_weight=1.0)),
    "ce1_const_20k": (20000, [32], dict(lr_schedule=K, ce_weight=1.0)),
    "cos_cw0_20k": (20000, [32], dict(lr_schedule=C, ce_weight=0.3, center_weight=0.0)),
    "cos_cw3_20k": (20000, [32], dict(lr_schedule=C, ce_weight=0.3, center_weight=3.0)),
    "cos_ce1_cw0_20k": (
        20000,
        [32],
        dict(lr_schedule=C, ce_weight=1.0, center_weight=0.0),
    ),
    "cos_bs128_20k": (20000, [32], dict(lr_schedule=C, ce_weight=0.3, batch_size=128)),
    "cos_kl0_20k": (20000, [32], dict(lr_schedule=C, ce_weight=0.3, kl_weight=0.0)),
    "cos_ce03_20k": (20000, [16, 64], dict(lr_schedule=C, ce_weight=0.3)),
    "cos_ce03_10k": (10000, [16, 32, 64], dict(lr_schedule=C, ce_weight=0.3)),
    "cos_ce1_10k": (10000, [16, 32, 64], dict(lr_schedule=C, ce_weight=1.0)),
    "cos_ce1_cw0_10k": (
        10000,
        [16, 32, 64],
        dict(lr_schedule=C, ce_weight=1.0, center_weight=0.0),
    ),
    "cos_hier_10k": (
        10000,
        [16, 32, 64],
        dict(lr_schedule=C, ce_weight=0.3, hier=True),
    ),
    "cos_ce05_hier_10k": (
        10000,
        [16, 32, 64],
        dict(lr_schedule=C, ce_weight=0.5, hier=True),
    ),
    "cos_ce1_hier_10k": (
        10000,
        [16, 32, 64],
        dict(lr_schedule=C, ce_weight=1.0, hier=True),
    ),
    "const_hier_20k": (
        20000,
        [16, 32, 64],
        dict(lr_schedule=K, ce_weight=0.3, hier=True),
    ),
    "cos_hier_20k": (
        20000,
        [16, 32, 64],
        dict(lr_schedule=C, ce_weight=0.3, hier=True),
    ),
    "cos_ce1_hier_20k": (
        20000,
        [16, 32, 64],
        dict(lr_schedule=C, ce_weight=1.0, hier=True),
    ),
    "gl_hier_const": (
        "gloss",
        [16, 32, 64],
        dict(lr_schedule=K, ce_weight=0.3, hier=True),
    ),
    "gl_hier_cos": (
        "gloss",
        [16, 32, 64],
        dict(lr_schedule=C, ce_weight=0.3, hier=True),
    ),
    "gl_hier_cos_ce05": (
        "gloss",
        [16, 32, 64],
        dict(lr_schedule=C, ce_weight=0.5, hier=True),
    ),
    "gl_hier_cos_ce1": (
        "gloss",
        [16, 32, 64],
        dict(lr_schedule=C, ce_weight=1.0, hier=True),
    ),
    "hashnet_20k": (20000, [16, 32, 64], dict(cls="HashNet")),
    # Then the rate and batch at one bit width (cosine, CE 1, labels).
    "b64_lr5e-3": (10000, [64], dict(lr_schedule=C, ce_weight=1.0, lr=5e-3)),
    "b64_cw05": (10000, [64], dict(lr_schedule=C, ce_weight=1.0, center_weight=0.5)),
    "b64_kl0": (10000, [64], dict(lr_schedule=C, ce_weight=1.0, kl_weight=0.0)),
    "b64_bs128": (10000, [64], dict(lr_schedule=C, ce_weight=1.0, batch_size=128)),
    "lr5e-3_10k_32": (10000, [32], dict(lr_schedule=C, ce_weight=1.0, lr=5e-3)),
    "lr5e-3_20k_64": (20000, [64], dict(lr_schedule=C, ce_weight=1.0, lr=5e-3)),
    "lr6e-3_10k_64": (10000, [64], dict(lr_schedule=C, ce_weight=1.0, lr=6e-3)),
    "lr2e-3_10k_16": (10000, [16], dict(lr_schedule=C, ce_weight=1.0, lr=2e-3)),
}


def run(name):
    n, bits, params = CONFIGS[name]
    params = dict(params)
    gloss = n == "gloss"
    if gloss:
        Xtr, ytr, Xdb, ydb, Xq, yq, h = load_gloss(1000, "/tmp")
    else:
        Xtr, ytr, Xdb, ydb, Xq, yq, h = load_fashion_train_db(n, 1000)
    cls = HashNetHasher if params.pop("cls", None) == "HashNet" else SemanticKLHasher
    if params.pop("hier", False):
        params["hierarchy"] = h
    kw = dict(
        backbone="mlp",
        hidden_layer_sizes=(1024,) if gloss else (512,),
        max_epochs=30 if gloss else 20,
        batch_size=256,
        device="cpu",
    )
    kw.update(params)

    def factory(b, s):
        return cls(bits=b, random_state=s, **kw)

    data = BenchmarkData("fashion", Xtr, ytr, Xq, yq, X_db=Xdb, y_db=ydb, hierarchy=h)
    rows = []
    run_benchmark(
        data,
        [(name, factory)],
        bits=bits,
        seeds=(0, 1, 2),
        progress=rows.append,
        extra_metrics=_float_columns,
    )
    with open(HERE / "cosine_ce_screen_rerun.jsonl", "a") as f:
        for r in rows:
            r = {
                k: v
                for k, v in r.items()
                if k not in ("params", "pr_precision", "pr_recall")
            }
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    torch.set_num_threads(1)
    for name in sys.argv[1:]:
        run(name)
