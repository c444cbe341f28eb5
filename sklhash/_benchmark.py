"""The benchmark harness behind ``sklhash benchmark`` and ``benchmarks/*.py``.

One loop serves every comparison in the docs: methods x bits x seeds on one
dataset split, each method fitted on the training split, the database and
query splits encoded, and every number computed by :mod:`sklhash.metrics`
(mAP@1000, mAP@all, P@r<=2, mAHP@250 where a hierarchy exists, the
precision-recall curve over Hamming radii), plus fit seconds and encoding
throughput. Results are plain dicts, written as JSON, a markdown table and
a PR-curve figure.
"""

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .utils._io import atomic_write

__all__ = [
    "METHODS",
    "BenchmarkData",
    "checkpointing_progress",
    "load_benchmark_data",
    "make_method",
    "run_benchmark",
    "summarize",
    "write_report",
]


@dataclass
class BenchmarkData:
    """A retrieval split: train (= database unless given) and queries."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_query: np.ndarray
    y_query: np.ndarray
    X_db: np.ndarray = None
    y_db: np.ndarray = None
    hierarchy: object = None
    image_shape: tuple = None
    description: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.X_db is None:
            self.X_db, self.y_db = self.X_train, self.y_train


def _subsample(X, y, n, seed):
    if n is None or n >= len(X):
        return X, y
    from sklearn.model_selection import train_test_split

    X, _, y, _ = train_test_split(X, y, train_size=n, stratify=y, random_state=seed)
    return X, y


def load_benchmark_data(
    name="digits", *, data_path=None, max_train=None, max_query=None, seed=0
):
    """Load a benchmark dataset split.

    Parameters
    ----------
    name : {"digits", "fashion-mnist", "cifar100"}
        ``digits`` ships with scikit-learn (300 stratified queries, the other
        1,497 images are training data and database); ``fashion-mnist`` uses
        the 60,000 training images as training data and database and the
        10,000 test images as queries; ``cifar100`` likewise with 50,000 /
        10,000 (needs ``data_path``).
    data_path : str or None
        Folder of the dataset files, where the loader needs one.
    max_train, max_query : int or None
        Stratified subsets, for quick runs.
    seed : int
        Seeds the subsets.

    Returns
    -------
    BenchmarkData
    """
    from . import datasets

    if name == "digits":
        from sklearn.model_selection import train_test_split

        X, y = datasets.load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        X_tr, X_q, y_tr, y_q = train_test_split(
            X, y, test_size=300, stratify=y, random_state=0
        )
        hierarchy, image_shape = None, (1, 8, 8)
        desc = "scikit-learn digits, 8x8 pixels in [0, 1]; 300 queries"
    elif name == "fashion-mnist":
        train = datasets.load_fashion_mnist(subset="train", path=data_path)
        test = datasets.load_fashion_mnist(subset="test", path=data_path)
        X_tr, y_tr, X_q, y_q = train.data, train.target, test.data, test.target
        hierarchy, image_shape = train.hierarchy, (1, 28, 28)
        desc = "Fashion-MNIST pixels in [0, 1]; train split = database"
    elif name == "cifar100":
        if data_path is None:
            raise ValueError(
                "dataset='cifar100' needs data_path: the folder of the CIFAR-100 "
                "python version (train, test, meta)."
            )
        train = datasets.load_cifar100(data_path, subset="train")
        test = datasets.load_cifar100(data_path, subset="test")
        X_tr, y_tr, X_q, y_q = train.data, train.target, test.data, test.target
        hierarchy, image_shape = train.hierarchy, (3, 32, 32)
        desc = "CIFAR-100 pixels in [0, 1]; train split = database"
    else:
        raise ValueError(
            f"dataset={name!r} is not one of 'digits', 'fashion-mnist', 'cifar100'."
        )
    X_tr, y_tr = _subsample(X_tr, y_tr, max_train, seed)
    X_q, y_q = _subsample(X_q, y_q, max_query, seed)
    return BenchmarkData(
        name,
        X_tr,
        y_tr,
        X_q,
        y_q,
        hierarchy=hierarchy,
        image_shape=image_shape,
        description=desc,
    )


def _deep_kwargs(ctx):
    kwargs = {"device": ctx.get("device", "cpu")}
    if ctx.get("max_epochs"):
        kwargs["max_epochs"] = ctx["max_epochs"]
    return kwargs


def _semantic_kl(bits, seed, ctx):
    from .hashers.semantic_kl import SemanticKLHasher

    return SemanticKLHasher(
        bits=bits,
        hierarchy=ctx.get("hierarchy"),
        random_state=seed,
        **_deep_kwargs(ctx),
    )


def _supervised(cls_name):
    def factory(bits, seed, ctx):
        from .hashers import supervised

        cls = getattr(supervised, cls_name)
        return cls(bits=bits, random_state=seed, **_deep_kwargs(ctx))

    return factory


def _unsupervised(module, cls_name):
    def factory(bits, seed, ctx):
        import importlib

        cls = getattr(importlib.import_module(f"sklhash.hashers.{module}"), cls_name)
        return cls(bits=bits, random_state=seed, **_deep_kwargs(ctx))

    return factory


def _householder(bits, seed, ctx):
    from .hashers.householder import HouseholderQuantizer

    return HouseholderQuantizer(bits=bits, projection="pca", random_state=seed)


def _classic(cls_name, seeded=True):
    def factory(bits, seed, ctx):
        from .hashers import classic

        cls = getattr(classic, cls_name)
        return cls(bits=bits, random_state=seed) if seeded else cls(bits=bits)

    return factory


#: name -> (factory(bits, seed, ctx) -> unfitted hasher, description)
METHODS = {
    "lsh": (_classic("LSHHasher"), "random hyperplanes"),
    "pcah": (_classic("PCAHasher", seeded=False), "sign of PCA"),
    "itq": (_classic("ITQHasher"), "PCA + iterative quantisation"),
    "sh": (_classic("SpectralHasher", seeded=False), "spectral hashing"),
    "pca-householder": (_householder, "PCA + Householder quantiser"),
    "nsh": (_unsupervised("nsh", "NSHasher"), "naturally-sorted hashing"),
    "cibhash": (_unsupervised("cibhash", "CIBHasher"), "CIBHash"),
    "dpsh": (_supervised("DPSHHasher"), "DPSH"),
    "hashnet": (_supervised("HashNetHasher"), "HashNet"),
    "csq": (_supervised("CSQHasher"), "CSQ"),
    "semantic-kl": (_semantic_kl, "semantic similarity + KL"),
}


def make_method(name, bits, seed=0, **ctx):
    """Instantiate benchmark method ``name`` (a key of :data:`METHODS`)."""
    if name not in METHODS:
        raise ValueError(
            f"method={name!r} is unknown; choose from {', '.join(METHODS)}."
        )
    return METHODS[name][0](bits, seed, ctx)


def _is_supervised(estimator):
    return bool(estimator.__sklearn_tags__().target_tags.required)


def _evaluate(est, codes_q, codes_db, data, n_bits, k=1000, float_metric="euclidean"):
    from . import metrics

    q, db, y_q, y_db = codes_q, codes_db, data.y_query, data.y_db
    row = {
        f"mAP@{k}": metrics.mean_average_precision(q, db, y_q, y_db, k=k),
        "mAP@all": metrics.mean_average_precision(q, db, y_q, y_db),
        # The convention of DeepHash-pytorch and most papers' tables (AP@k
        # divided by the hits found in the top k), for comparison only.
        f"mAP@{k} (DeepHash)": metrics.mean_average_precision(
            q, db, y_q, y_db, k=k, normalize="retrieved"
        ),
    }
    p, r = metrics.precision_recall_at_radius(q, db, y_q, y_db, radius=2)
    row["P@r<=2"], row["R@r<=2"] = float(p), float(r)
    if data.hierarchy is not None:
        row["mAHP@250"] = metrics.mean_average_hierarchical_precision(
            q, db, y_q, y_db, similarity=data.hierarchy, k=250
        )
    if hasattr(est, "embed"):
        # The continuous outputs under ``float_metric``: the gap to the
        # codes' mAP is what rounding costs.
        row[f"float mAP@{k}"] = metrics.mean_average_precision(
            est.embed(data.X_query),
            est.embed(data.X_db),
            y_q,
            y_db,
            k=k,
            metric=float_metric,
        )
    precision, recall, _ = metrics.precision_recall_curve(
        q, db, y_q, y_db, radii=np.arange(n_bits + 1)
    )
    return {k: float(v) for k, v in row.items()}, (precision, recall)


def run_benchmark(
    data,
    methods,
    bits=(16, 32, 64),
    seeds=(0,),
    *,
    device="cpu",
    max_epochs=None,
    progress=None,
    k=1000,
    float_metric="euclidean",
    extra_metrics=None,
):
    """Fit and evaluate every method x bits x seed on one split.

    Parameters
    ----------
    data : BenchmarkData
        The split, from :func:`load_benchmark_data` or built from arrays.
    methods : list of str or (str, callable)
        Keys of :data:`METHODS`, or ``(label, factory)`` pairs where
        ``factory(bits, seed)`` returns an unfitted hasher. Hashers whose
        tags require ``y`` are fitted on the training labels.
    bits : sequence of int
        Code lengths.
    seeds : sequence of int
        Random states; deterministic methods run once per seed too, which
        shows their spread is 0.
    device : str
        Device of the deep hashers built from :data:`METHODS`.
    max_epochs : int or None
        Overrides the default number of epochs of those deep hashers.
    progress : callable or None
        Called with each finished result row (for printing as it goes).
    k : int
        Cut-off of the mAP columns (``mAP@{k}``, its DeepHash-convention
        twin and ``float mAP@{k}``); 1000 unless the database is small.
    float_metric : str
        Distance under which the deep hashers' continuous outputs
        (``embed``) are ranked for ``float mAP@{k}``.
    extra_metrics : callable or None
        ``extra_metrics(hasher, data, row) -> dict`` of further columns,
        called with the fitted hasher and the metrics computed so far;
        the columns are summarised and tabulated after the standard ones.

    Returns
    -------
    results : list of dict
        One row per run: method, bits, seed, the metrics (mAP@1000, mAP@all,
        the DeepHash-convention mAP@1000, P@r<=2, mAHP@250 with a hierarchy,
        the continuous outputs' mAP@1000 for deep hashers), ``fit_seconds``,
        ``encode_per_second`` and the PR curve.
    """
    ctx = {"hierarchy": data.hierarchy, "device": device, "max_epochs": max_epochs}
    results = []
    for method in methods:
        if isinstance(method, str):
            label = method

            def factory(n_bits, seed, _name=method):
                return make_method(_name, n_bits, seed, **ctx)
        else:
            label, factory = method
        for n_bits in bits:
            for seed in seeds:
                est = factory(n_bits, seed)
                t0 = time.perf_counter()
                if _is_supervised(est):
                    est.fit(data.X_train, data.y_train)
                else:
                    est.fit(data.X_train)
                fit_seconds = time.perf_counter() - t0
                t0 = time.perf_counter()
                codes_db = est.transform(data.X_db)
                encode_seconds = time.perf_counter() - t0
                codes_q = est.transform(data.X_query)
                row, (precision, recall) = _evaluate(
                    est, codes_q, codes_db, data, n_bits, k, float_metric
                )
                if extra_metrics is not None:
                    extra = extra_metrics(est, data, dict(row))
                    row.update({name: float(v) for name, v in extra.items()})
                result = {
                    "dataset": data.name,
                    "method": label,
                    "bits": int(n_bits),
                    "seed": int(seed),
                    "k": int(k),
                    **row,
                    "fit_seconds": fit_seconds,
                    "encode_per_second": len(data.X_db) / max(encode_seconds, 1e-9),
                    "pr_precision": [float(v) for v in precision],
                    "pr_recall": [float(v) for v in recall],
                }
                results.append(result)
                if progress is not None:
                    progress(result)
    return results


_METRIC_COLUMNS = [
    "mAP@{k}",
    "mAP@all",
    "P@r<=2",
    "mAHP@250",
    "float mAP@{k}",
    "mAP@{k} (DeepHash)",
    "fit_seconds",
]


# Keys of a result row that are not summarised as metric columns.
_NOT_METRICS = {
    "dataset",
    "method",
    "bits",
    "seed",
    "k",
    "n_seeds",
    "R@r<=2",
    "encode_per_second",
    "pr_precision",
    "pr_recall",
}


def _metric_columns(rows):
    ks = sorted({r.get("k", 1000) for r in rows}) or [1000]
    cols = []
    for col in _METRIC_COLUMNS:
        for k in ks if "{k}" in col else [None]:
            name = col.format(k=k)
            if name not in cols:
                cols.append(name)
    # Columns added by ``extra_metrics``, in the order first seen.
    for row in rows:
        for name, value in row.items():
            if (
                name not in cols
                and name not in _NOT_METRICS
                and not name.endswith("_std")
                and isinstance(value, float)
            ):
                cols.append(name)
    return cols


def summarize(results):
    """Mean and standard deviation over seeds per (method, bits)."""
    groups = {}
    for row in results:
        key = (row["method"], row["bits"], row.get("k", 1000))
        groups.setdefault(key, []).append(row)
    summary = []
    for (method, n_bits, k), rows in groups.items():
        entry = {"method": method, "bits": n_bits, "k": k, "n_seeds": len(rows)}
        for col in _metric_columns(rows):
            values = [r[col] for r in rows if col in r]
            if values:
                entry[col] = float(np.mean(values))
                entry[col + "_std"] = float(np.std(values))
        summary.append(entry)
    return summary


def markdown_table(summary):
    """Render :func:`summarize` output as a markdown table."""
    cols = [c for c in _metric_columns(summary) if any(c in s for s in summary)]
    lines = [
        "| method | bits | " + " | ".join(cols) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in cols) + " |",
    ]
    for s in summary:
        cells = []
        for c in cols:
            if c not in s:
                cells.append("–")
            elif c == "fit_seconds":
                cells.append(f"{s[c]:.1f}")
            elif s["n_seeds"] > 1:
                cells.append(f"{s[c]:.3f} ± {s[c + '_std']:.3f}")
            else:
                cells.append(f"{s[c]:.3f}")
        lines.append(f"| {s['method']} | {s['bits']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def checkpointing_progress(results, out_dir, data, name=None):
    """A ``progress`` callback for :func:`run_benchmark` that keeps every row.

    Each finished row is appended to ``results``, printed as one JSON line
    (without the PR-curve columns) and the report is rewritten (without the
    figure), so a long run that is stopped keeps what it measured.

    Parameters
    ----------
    results : list
        Collects the rows; pass the same list to the final
        :func:`write_report`.
    out_dir, data, name
        As in :func:`write_report`.

    Returns
    -------
    callable
        ``progress(row)``.
    """

    def progress(row):
        results.append(row)
        print(json.dumps({k: v for k, v in row.items() if not k.startswith("pr_")}))
        write_report(results, out_dir, data, plot=False, name=name)

    return progress


def write_report(results, out_dir, data, *, plot=True, name=None):
    """Write ``results.json``, ``results.md`` and ``pr_curves.png``.

    Each file is written to a temporary name and renamed, so a failure
    leaves no half-written report.

    Parameters
    ----------
    results : list of dict
        The rows of :func:`run_benchmark`.
    out_dir : str
        Folder of the report (created if missing).
    data : BenchmarkData
        The split; its ``description`` heads the markdown and its ``extra``
        (run settings, versions) goes into the JSON.
    plot : bool
        Whether to draw the PR curves.
    name : str or None
        Stem of the files, ``<name>.json``, ``<name>.md`` and
        ``<name>_pr_curves.png``, for scripts that keep several reports in
        one folder; None keeps the default names.

    Returns
    -------
    paths : list of str
        The files written.
    """
    os.makedirs(out_dir, exist_ok=True)
    summary = summarize(results)
    paths = []
    payload = {
        "dataset": data.name,
        "description": data.description,
        "n_train": int(len(data.X_train)),
        "n_database": int(len(data.X_db)),
        "n_queries": int(len(data.X_query)),
        "summary": summary,
        "runs": results,
        "map_convention": "AP@k normalised by min(R, k); ties averaged exactly",
    }
    if data.extra:
        payload["extra"] = data.extra
    stem = os.path.join(out_dir, name or "results")
    path = stem + ".json"
    atomic_write(path, lambda fh: fh.write(json.dumps(payload, indent=1).encode()))
    paths.append(path)
    md = (
        f"# sklhash benchmark: {data.name}\n\n{data.description}. "
        f"{len(data.X_train)} training items, {len(data.X_db)} in the database, "
        f"{len(data.X_query)} queries. mAP normalised by min(R, k), ties averaged "
        "exactly; mean ± std over seeds where more than one ran.\n\n"
        + markdown_table(summary)
    )
    path = stem + ".md"
    atomic_write(path, lambda fh: fh.write(md.encode()))
    paths.append(path)
    if plot:
        path = (
            stem + "_pr_curves.png" if name else os.path.join(out_dir, "pr_curves.png")
        )
        atomic_write(path, lambda fh: _plot_pr(results, fh))
        paths.append(path)
    return paths


def _plot_pr(results, fh):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bits = sorted({r["bits"] for r in results})
    fig, axes = plt.subplots(1, len(bits), figsize=(4.5 * len(bits), 4), squeeze=False)
    for ax, n_bits in zip(axes[0], bits, strict=True):
        seen = set()
        for r in results:
            if r["bits"] != n_bits or r["method"] in seen:
                continue
            seen.add(r["method"])
            ax.plot(r["pr_recall"], r["pr_precision"], marker=".", label=r["method"])
        ax.set_title(f"{n_bits} bits")
        ax.set_xlabel("recall (Hamming radius 0..bits)")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
