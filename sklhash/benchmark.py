"""Benchmark harness: fit, encode and evaluate hashers on one retrieval split.

This is the loop behind ``sklhash benchmark`` and the scripts in
``benchmarks/``: methods x bits x seeds on one dataset split, each hasher
fitted on the training split, the database and query splits encoded, and
every number computed by :mod:`sklhash.metrics` (mAP@1000, mAP@all, P@r<=2,
mAHP@250 where a hierarchy exists, the precision-recall curve over Hamming
radii), plus fit seconds and encoding throughput. Results are plain dicts,
written as a report set (``results.json``, ``results.md``,
``pr_curves.png``) that replaces the previous one as a whole.

The methods are the rows of sklhash's table of hashers (the ``method``
column of ``sklhash/_registry.py``); any other hasher joins a run as a
``(label, factory)`` pair.

Examples
--------
>>> from sklhash.benchmark import load_benchmark_data, run_benchmark, summarize
>>> data = load_benchmark_data("digits", max_train=400)
>>> rows = run_benchmark(data, ["lsh", "itq"], bits=[16], seeds=[0], k=100)
>>> [(r["method"], r["bits"]) for r in rows]
[('lsh', 16), ('itq', 16)]
>>> s = {r["method"]: r["mAP@100"] for r in summarize(rows)}
>>> bool(s["itq"] > s["lsh"])
True
"""

import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ._registry import HASHERS, by_method
from .utils._optional import available, require
from .utils._threads import limit_threads, resolve_threads

__all__ = [
    "METHODS",
    "BenchmarkData",
    "checkpointing_progress",
    "environment",
    "evaluate_codes",
    "fit_hasher",
    "load_benchmark_data",
    "make_method",
    "markdown_table",
    "plotting_available",
    "run_benchmark",
    "summarize",
    "write_report",
]

#: Benchmark method name -> one-line description, from the table of hashers.
METHODS = {spec.method: spec.description for spec in HASHERS}


@dataclass
class BenchmarkData:
    """A retrieval split: train (= database unless given) and queries.

    Parameters
    ----------
    name : str
        Dataset name, shown in reports and figure titles.
    X_train, y_train : ndarray
        Training features and labels.
    X_query, y_query : ndarray
        Query features and labels.
    X_db, y_db : ndarray or None, default=None
        Database features and labels; None uses the training split.
    hierarchy : LabelHierarchy or None, default=None
        Class hierarchy for mAHP@250 and hierarchy-aware hashers.
    image_shape : tuple of int or None, default=None
        ``(channels, height, width)`` of the flattened rows, if images.
    description : str, default=""
        One sentence heading the markdown report.
    extra : dict, default={}
        Run settings and versions stored in the JSON report.
    """

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
        The split, with the hierarchy of the dataset where one is shipped.
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


def make_method(name, bits, seed=0, *, hierarchy=None, device="cpu",
                max_epochs=None, n_jobs=None, **params):
    """Build the unfitted hasher of benchmark method ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`METHODS`.
    bits : int
        Code length.
    seed : int or None, default=0
        ``random_state``, where the class takes one.
    hierarchy : LabelHierarchy or None, default=None
        Passed to classes with a ``hierarchy`` parameter.
    device : str, default="cpu"
        Passed to torch-backed classes.
    max_epochs : int or None, default=None
        Overrides the default number of epochs of classes that train for
        epochs; None keeps their default.
    n_jobs : int or None, default=None
        Threads of classes with an ``n_jobs`` parameter; None keeps their
        default.
    **params
        Further constructor arguments; each must be a parameter of the
        class.

    Returns
    -------
    estimator : BaseHasher
        Unfitted.

    Raises
    ------
    ValueError
        For an unknown method or a parameter the class does not take.
    """
    spec = by_method(name)
    cls = spec.load()
    accepted = set(cls(bits=bits).get_params())
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(
            f"{spec.name} has no parameter {unknown[0]!r}; its parameters are "
            f"{', '.join(sorted(accepted))}."
        )
    kwargs = {"bits": bits, **spec.benchmark_params}
    optional = {"random_state": seed, "device": device, "hierarchy": hierarchy}
    if max_epochs is not None:
        optional["max_epochs"] = max_epochs
    if n_jobs is not None:
        optional["n_jobs"] = n_jobs
    for key, value in optional.items():
        if key in accepted and (value is not None or key == "random_state"):
            kwargs[key] = value
    kwargs.update(params)
    return cls(**kwargs)


def _is_supervised(estimator):
    return bool(estimator.__sklearn_tags__().target_tags.required)


def _uses_torch(estimator):
    return "device" in estimator.get_params()


def fit_hasher(estimator, X, y=None, *, threads=None):
    """Fit ``estimator`` with ``y`` when its tags require labels.

    Parameters
    ----------
    estimator : BaseHasher or Pipeline
        Unfitted hasher.
    X : array-like of shape (n_samples, n_features)
        Training data.
    y : array-like or None, default=None
        Labels; passed only to hashers whose tags require them.
    threads : int or None, default=None
        Threads for BLAS and torch during the fit (see ``sklhash
        benchmark --threads``); None is half the available CPUs.

    Returns
    -------
    estimator : BaseHasher
        Fitted.
    seconds : float
        Wall-clock time of the fit.

    Raises
    ------
    ValueError
        If the hasher needs labels and ``y`` is None.
    """
    supervised = _is_supervised(estimator)
    if supervised and y is None:
        raise ValueError(
            f"{type(estimator).__name__} needs labels: y=None was given."
        )
    torch_used = _uses_torch(estimator) if hasattr(estimator, "get_params") else None
    with limit_threads(threads, torch=torch_used or None):
        t0 = time.perf_counter()
        estimator.fit(X, y) if supervised else estimator.fit(X)
        seconds = time.perf_counter() - t0
    return estimator, seconds


def evaluate_codes(codes_q, codes_db, y_q, y_db, *, k=1000, hierarchy=None,
                   radius=2, n_bits=None):
    """Retrieval metrics of query codes against database codes.

    Parameters
    ----------
    codes_q, codes_db : ndarray of uint8
        Packed codes of the queries and of the database.
    y_q, y_db : array-like
        Their labels (1-d classes or 2-d multi-label indicators).
    k : int, default=1000
        Cut-off of ``mAP@{k}`` (and its DeepHash-convention twin).
    hierarchy : LabelHierarchy or None, default=None
        Adds ``mAHP@250`` when given.
    radius : int, default=2
        Hamming radius of the ``P@r<=`` / ``R@r<=`` columns.
    n_bits : int or None, default=None
        Code length for the precision-recall curve over radii
        ``0..n_bits``; None skips the curve.

    Returns
    -------
    row : dict
        ``{metric name: float}``, with ``pr_precision`` / ``pr_recall``
        lists when ``n_bits`` is given.
    """
    from . import metrics

    q, db = codes_q, codes_db
    row = {
        f"mAP@{k}": metrics.mean_average_precision(q, db, y_q, y_db, k=k),
        "mAP@all": metrics.mean_average_precision(q, db, y_q, y_db),
        # The convention of DeepHash-pytorch and most papers' tables (AP@k
        # divided by the hits found in the top k), for comparison only.
        f"mAP@{k} (DeepHash)": metrics.mean_average_precision(
            q, db, y_q, y_db, k=k, normalize="retrieved"
        ),
    }
    p, r = metrics.precision_recall_at_radius(q, db, y_q, y_db, radius=radius)
    row[f"P@r<={radius}"], row[f"R@r<={radius}"] = p, r
    if hierarchy is not None:
        row["mAHP@250"] = metrics.mean_average_hierarchical_precision(
            q, db, y_q, y_db, similarity=hierarchy, k=250
        )
    row = {name: float(value) for name, value in row.items()}
    if n_bits is not None:
        precision, recall, _ = metrics.precision_recall_curve(
            q, db, y_q, y_db, radii=np.arange(n_bits + 1)
        )
        row["pr_precision"] = [float(v) for v in precision]
        row["pr_recall"] = [float(v) for v in recall]
    return row


def _float_map(est, data, k, float_metric):
    from . import metrics

    # The continuous outputs under ``float_metric``: the gap to the codes'
    # mAP is what rounding costs.
    return float(
        metrics.mean_average_precision(
            est.embed(data.X_query),
            est.embed(data.X_db),
            data.y_query,
            data.y_db,
            k=k,
            metric=float_metric,
        )
    )


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    # Objects (a hierarchy, a module) are recorded by their repr.
    return repr(value)


def _run_record(est):
    """Parameters and epochs of a fitted hasher, for results.json."""
    params = est.get_params(deep=False)
    record = {"params": {k: _jsonable(v) for k, v in params.items()}}
    history = getattr(est, "history_", None)
    if history is not None:
        record["epochs"] = len(history)
    if hasattr(est, "n_iter_"):
        # Iterations as the class counts them (ITQ's rotation updates,
        # HouseholderQuantizer's epochs).
        record["n_iter"] = int(est.n_iter_)
    return record


def environment(device="cpu", threads=None):
    """Describe the versions and machine of a run, for ``results.json``.

    Parameters
    ----------
    device : str, default="cpu"
        Device of the deep hashers.
    threads : int or None, default=None
        Thread limit of the run.

    Returns
    -------
    dict
        ``versions`` (Python, sklhash, numpy, scipy, scikit-learn and, when
        imported, torch and skorch), ``machine`` (platform, processor, CPUs
        available, load average, CUDA device name when used), ``device`` and
        ``threads``.
    """
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    versions = {"python": platform.python_version(), "sklhash": __version__}
    for dist in ("numpy", "scipy", "scikit-learn", "torch", "skorch", "faiss-cpu"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            continue
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
    try:
        machine["cpus_available"] = len(os.sched_getaffinity(0))
        machine["load_average"] = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        pass
    if str(device).startswith("cuda") and "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            machine["cuda_device"] = torch.cuda.get_device_name()
    return {
        "versions": versions,
        "machine": machine,
        "device": str(device),
        "threads": resolve_threads(threads),
    }


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
    threads=None,
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
    bits : sequence of int, default=(16, 32, 64)
        Code lengths.
    seeds : sequence of int, default=(0,)
        Random states; deterministic methods run once per seed too, which
        shows their spread is 0.
    device : str, default="cpu"
        Device of the deep hashers built from :data:`METHODS`.
    max_epochs : int or None, default=None
        Overrides the default number of epochs of those deep hashers.
    progress : callable or None, default=None
        Called with each finished result row (for printing as it goes).
    k : int, default=1000
        Cut-off of the mAP columns (``mAP@{k}``, its DeepHash-convention
        twin and ``float mAP@{k}``); 1000 unless the database is small.
    float_metric : str, default="euclidean"
        Distance under which the deep hashers' continuous outputs
        (``embed``) are ranked for ``float mAP@{k}``.
    extra_metrics : callable or None, default=None
        ``extra_metrics(hasher, data, row) -> dict`` of further columns,
        called with the fitted hasher and the metrics computed so far;
        the columns are summarised and tabulated after the standard ones.
    threads : int or None, default=None
        Threads for BLAS and torch during each fit and evaluation; None is
        half the CPUs available (at most 8), ``-1`` all of them. Given
        explicitly, it also sets the ``n_jobs`` of the methods built by name
        (None leaves their own default, one thread for the deep hashers).

    Returns
    -------
    results : list of dict
        One row per run: method, bits, seed, the metrics (mAP@1000, mAP@all,
        the DeepHash-convention mAP@1000, P@r<=2, mAHP@250 with a hierarchy,
        the continuous outputs' mAP@1000 for deep hashers), ``fit_seconds``,
        ``encode_per_second``, the PR curve, the hasher's ``params``, and
        ``epochs`` (deep hashers: epochs run) or ``n_iter`` (its ``n_iter_``)
        where the hasher records them.

    Notes
    -----
    A ``KeyboardInterrupt`` during a fit propagates: no row is recorded for
    the interrupted run and ``progress`` is not called for it.
    """
    for method in methods:
        if isinstance(method, str):
            # Fail before any work: an unknown name, a missing library.
            for module in by_method(method).requires:
                require(module, f"benchmark method {method!r}")
    results = []
    for method in methods:
        if isinstance(method, str):
            label = method

            def factory(n_bits, seed, _name=method):
                # An explicit thread count reaches the hashers' own n_jobs
                # (inside their fit it takes precedence over the limit set
                # here); without one they keep their measured default.
                return make_method(
                    _name,
                    n_bits,
                    seed,
                    hierarchy=data.hierarchy,
                    device=device,
                    max_epochs=max_epochs,
                    n_jobs=None if threads is None else resolve_threads(threads),
                )
        else:
            label, factory = method
        for n_bits in bits:
            for seed in seeds:
                est = factory(n_bits, seed)
                est, fit_seconds = fit_hasher(
                    est, data.X_train, data.y_train, threads=threads
                )
                with limit_threads(threads):
                    t0 = time.perf_counter()
                    codes_db = est.transform(data.X_db)
                    encode_seconds = time.perf_counter() - t0
                    codes_q = est.transform(data.X_query)
                    row = evaluate_codes(
                        codes_q,
                        codes_db,
                        data.y_query,
                        data.y_db,
                        k=k,
                        hierarchy=data.hierarchy,
                        n_bits=n_bits,
                    )
                    curve = {n: row.pop(n) for n in ("pr_precision", "pr_recall")}
                    if hasattr(est, "embed"):
                        row[f"float mAP@{k}"] = _float_map(est, data, k, float_metric)
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
                    **curve,
                    **_run_record(est),
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
    "params",
    "epochs",
    "n_iter",
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
    """Mean and standard deviation over seeds per (method, bits).

    Parameters
    ----------
    results : list of dict
        Rows of :func:`run_benchmark`.

    Returns
    -------
    summary : list of dict
        One entry per (method, bits, k) with ``n_seeds``, each metric's mean
        and its standard deviation as ``<metric>_std``.
    """
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
    """Render :func:`summarize` output as a markdown table.

    Parameters
    ----------
    summary : list of dict
        Output of :func:`summarize`.

    Returns
    -------
    str
        The table, one row per entry, ``mean ± std`` where more than one
        seed ran.
    """
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
    out_dir : str
        Folder of the report, as in :func:`write_report`.
    data : BenchmarkData
        The split, as in :func:`write_report`.
    name : str or None, default=None
        Stem of the report's files, as in :func:`write_report`.

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


def plotting_available():
    """Tell whether matplotlib can be imported (the PR-curve figure needs it).

    Returns
    -------
    bool
        True when ``import matplotlib`` would succeed.
    """
    return available("matplotlib")


def _report_names(name):
    stem = name or "results"
    plot = f"{name}_pr_curves.png" if name else "pr_curves.png"
    return [stem + ".json", stem + ".md", plot]


@contextmanager
def _no_interrupt():
    # Renaming the finished files into place takes microseconds; deferring
    # Ctrl-C across it keeps the old set or the new one, never a mix.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda *a: received.append(a))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and callable(previous):
            previous(*received[0])


def write_report(results, out_dir, data, *, plot=True, name=None, extra=None):
    """Write the report set ``results.json``, ``results.md``, ``pr_curves.png``.

    The set is written into a temporary folder and then moved into place
    as a whole: an interrupted or failed write leaves the previous set
    untouched, and a new set never sits beside parts of an old one (an old
    figure is removed when the new set has none).

    Parameters
    ----------
    results : list of dict
        The rows of :func:`run_benchmark`.
    out_dir : str
        Folder of the report (created if missing). With ``name=None`` the
        folder is the report: it may hold only the report's files, and it
        is replaced by a folder rename.
    data : BenchmarkData
        The split; its ``description`` heads the markdown and its ``extra``
        (run settings, versions) goes into the JSON.
    plot : bool, default=True
        Whether to draw the PR curves. Without matplotlib the figure is
        skipped with one warning and the other files are still written.
    name : str or None, default=None
        Stem of the files, ``<name>.json``, ``<name>.md`` and
        ``<name>_pr_curves.png``, for scripts that keep several reports in
        one folder (each set is swapped in file by file, with Ctrl-C
        deferred during the renames); None keeps the default names.
    extra : dict or None, default=None
        Further entries of the JSON (the command line, :func:`environment`).

    Returns
    -------
    paths : list of str
        The files written.

    Raises
    ------
    ValueError
        If ``out_dir`` is a file, or with ``name=None`` holds files that
        are not part of a report.
    """
    out_dir = os.fspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"out_dir={out_dir!r} is a file, not a folder.")
    json_name, md_name, png_name = _report_names(name)
    if name is None and os.path.isdir(out_dir):
        foreign = sorted(
            set(os.listdir(out_dir)) - {json_name, md_name, png_name}
        )
        if foreign:
            raise ValueError(
                f"out_dir={out_dir!r} holds {foreign[0]!r}, which is not part of "
                "a sklhash report; give a new or empty folder."
            )
    if plot and not plotting_available():
        warnings.warn(
            "matplotlib is not installed: the PR-curve figure is skipped "
            "(pip install 'sklhash[plot]').",
            stacklevel=2,
        )
        plot = False
    summary = summarize(results)
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
    if extra:
        payload.update({k: _jsonable(v) for k, v in extra.items()})
    md = (
        f"# sklhash benchmark: {data.name}\n\n{data.description}. "
        f"{len(data.X_train)} training items, {len(data.X_db)} in the database, "
        f"{len(data.X_query)} queries. mAP normalised by min(R, k), ties averaged "
        "exactly; mean ± std over seeds where more than one ran.\n\n"
        + markdown_table(summary)
    )
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix="." + os.path.basename(out_dir) + ".")
    try:
        written = [json_name, md_name]
        _write_synced(os.path.join(tmp, json_name),
                      lambda fh: fh.write(json.dumps(payload, indent=1).encode()))
        _write_synced(os.path.join(tmp, md_name), lambda fh: fh.write(md.encode()))
        if plot:
            _write_synced(os.path.join(tmp, png_name),
                          lambda fh: _plot_pr(results, fh, title=data.name))
            written.append(png_name)
        os.chmod(tmp, 0o777 & ~_umask())
        for entry in written:
            os.chmod(os.path.join(tmp, entry), 0o666 & ~_umask())
        with _no_interrupt():
            if name is None:
                _swap_folder(tmp, out_dir)
            else:
                os.makedirs(out_dir, exist_ok=True)
                for entry in (json_name, md_name, png_name):
                    target = os.path.join(out_dir, entry)
                    if entry in written:
                        os.replace(os.path.join(tmp, entry), target)
                    elif os.path.exists(target):
                        os.unlink(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [os.path.join(out_dir, entry) for entry in written]


def _write_synced(path, write):
    # On disk before the set is renamed into place: a crash after the
    # rename never finds empty files.
    with open(path, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap_folder(new, target):
    if not os.path.exists(target):
        os.rename(new, target)
        return
    old = tempfile.mkdtemp(
        dir=os.path.dirname(os.path.abspath(target)),
        prefix="." + os.path.basename(target) + ".old.",
    )
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


# Markers and colours are assigned by a method's place in the table of
# hashers, so a method looks the same in every figure whatever subset of
# methods ran; other labels get a slot from a hash of their name.
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]


def _style(label):
    import matplotlib

    order = [spec.method for spec in HASHERS]
    if label in order:
        slot = order.index(label)
    else:
        slot = len(order) + zlib.crc32(label.encode()) % 9
    colours = matplotlib.colormaps["tab20"].colors
    colour = colours[(2 * slot) % 20 if slot < 10 else (2 * slot + 1) % 20]
    return {"color": colour, "marker": _MARKERS[slot % len(_MARKERS)]}


def _plot_pr(results, fh, title=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bits = sorted({r["bits"] for r in results})
    fig, axes = plt.subplots(
        1, len(bits), figsize=(4.2 * len(bits) + 2.2, 4.2), squeeze=False
    )
    handles = {}
    for ax, n_bits in zip(axes[0], bits, strict=True):
        seen = set()
        for r in results:
            if r["bits"] != n_bits or r["method"] in seen:
                continue
            seen.add(r["method"])
            (line,) = ax.plot(
                r["pr_recall"],
                r["pr_precision"],
                markersize=4,
                linewidth=1.3,
                label=r["method"],
                **_style(r["method"]),
            )
            handles.setdefault(r["method"], line)
        ax.set_title(f"{n_bits} bits")
        ax.set_xlabel("recall (Hamming radius 0..bits)")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(f"Precision-recall over Hamming radii: {title}")
    # The legend sits right of the panels, never over a curve.
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="center right",
        fontsize="small",
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0, 1 - 2.0 / fig.get_figwidth(), 1))
    fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
