"""The ``sklhash`` command: benchmark, fit, encode, search, evaluate.

Every failure the user can cause (a bad path, an unknown method, a dataset
that is not installed, a malformed array file) ends with one line on stderr
and exit status 2, never a traceback.
"""

import argparse
import os
import sys
import time

import numpy as np

from .utils._io import atomic_write

__all__ = ["main"]


class CLIError(Exception):
    """A user error: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError(message)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _load_npy(path, what):
    if not os.path.isfile(path):
        raise CLIError(f"{what} file {path!r} does not exist")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise CLIError(
            f"{what} file {path!r} is not a readable .npy array: {exc}"
        ) from exc


def _check_out_folder(path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"output folder {folder!r} does not exist")


def _save_npy(path, array):
    _check_out_folder(path)
    atomic_write(path, lambda fh: np.save(fh, array))


def _format_row(row):
    parts = [f"{row['method']:>16s}", f"{row['bits']:>4d} bits", f"seed {row['seed']}"]
    for key in ("mAP@1000", "mAP@all", "P@r<=2", "mAHP@250"):
        if key in row:
            parts.append(f"{key} {row[key]:.3f}")
    parts.append(f"fit {row['fit_seconds']:.1f}s")
    return "  ".join(parts)


# --------------------------------------------------------------- subcommands
def _check_method(name):
    from ._benchmark import METHODS

    if name not in METHODS:
        raise CLIError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")


def _cmd_benchmark(args):
    from . import _benchmark

    methods = args.methods or list(_benchmark.METHODS)
    for m in methods:
        _check_method(m)
    data = _load_dataset(args)
    seeds = list(range(args.seeds))
    total = len(methods) * len(args.bits) * len(seeds)
    print(
        f"sklhash benchmark: {data.name} ({len(data.X_train)} train, "
        f"{len(data.X_db)} database, {len(data.X_query)} queries), "
        f"{total} runs",
        flush=True,
    )
    done = [0]
    start = time.perf_counter()

    def progress(row):
        done[0] += 1
        elapsed = time.perf_counter() - start
        bar = "#" * (20 * done[0] // total)
        print(
            f"[{bar:<20s}] {done[0]:>3d}/{total} {elapsed:6.0f}s  " + _format_row(row),
            flush=True,
        )

    os.makedirs(args.out, exist_ok=True)
    results = _benchmark.run_benchmark(
        data,
        methods,
        bits=args.bits,
        seeds=seeds,
        device=args.device,
        max_epochs=args.epochs,
        progress=progress,
    )
    paths = _benchmark.write_report(results, args.out, data)
    print()
    print(_benchmark.markdown_table(_benchmark.summarize(results)))
    print("wrote " + ", ".join(paths))
    return 0


def _load_dataset(args):
    from . import _benchmark

    try:
        return _benchmark.load_benchmark_data(
            args.dataset,
            data_path=args.data_path,
            max_train=args.max_train,
            max_query=getattr(args, "max_query", None),
            seed=0,
        )
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot load dataset {args.dataset!r}: {exc}") from exc


def _cmd_fit(args):
    import joblib

    from . import _benchmark

    _check_method(args.method)
    _check_out_folder(args.out)
    data = _load_dataset(args)
    est = _benchmark.make_method(
        args.method,
        args.bits,
        args.seed,
        hierarchy=data.hierarchy,
        device=args.device,
        max_epochs=args.epochs,
    )
    supervised = _benchmark._is_supervised(est)
    est.fit(data.X_train, data.y_train if supervised else None)
    atomic_write(args.out, lambda fh: joblib.dump(est, fh))
    print(
        f"fitted {type(est).__name__}(bits={args.bits}) on {len(data.X_train)} "
        f"{data.name} items; saved to {args.out}"
    )
    return 0


def _cmd_encode(args):
    import joblib

    if not os.path.isfile(args.model):
        raise CLIError(f"model file {args.model!r} does not exist")
    try:
        est = joblib.load(args.model)
    except Exception as exc:  # a foreign file can fail in many ways
        raise CLIError(f"model file {args.model!r} could not be loaded: {exc}") from exc
    if not hasattr(est, "transform"):
        raise CLIError(f"model file {args.model!r} does not hold a hasher")
    X = _load_npy(args.X, "input")
    try:
        codes = est.transform(X)
    except ValueError as exc:
        raise CLIError(f"cannot encode {args.X!r}: {exc}") from exc
    _save_npy(args.out, codes)
    print(f"encoded {len(codes)} items to {codes.shape[1]}-byte codes in {args.out}")
    return 0


def _codes(path, what):
    from .codes import check_codes

    try:
        return check_codes(_load_npy(path, what), input_name=f"{what} file {path!r}")
    except ValueError as exc:
        raise CLIError(str(exc)) from exc


def _cmd_search(args):
    from .neighbors import HammingIndex

    db = _codes(args.codes_db, "database codes")
    q = _codes(args.codes_q, "query codes")
    if db.shape[1] != q.shape[1]:
        raise CLIError(
            f"query codes have {q.shape[1]} bytes but database codes {db.shape[1]}"
        )
    index = HammingIndex(backend=args.backend).fit(db)
    k = min(args.k, len(db))
    dist, idx = index.kneighbors(q, n_neighbors=k)
    if args.out:
        _check_out_folder(args.out)
        atomic_write(args.out, lambda fh: np.savez(fh, distances=dist, indices=idx))
        print(f"wrote distances and indices of {len(q)} queries to {args.out}")
    else:
        for i in range(len(q)):
            pairs = " ".join(f"{j}:{d}" for j, d in zip(idx[i], dist[i], strict=True))
            print(f"{i}\t{pairs}")
    return 0


def _cmd_evaluate(args):
    from . import metrics

    db = _codes(args.codes_db, "database codes")
    q = _codes(args.codes_q, "query codes")
    y_db = _load_npy(args.labels_db, "database labels")
    y_q = _load_npy(args.labels_q, "query labels")
    try:
        rows = {
            f"mAP@{args.k}": metrics.mean_average_precision(q, db, y_q, y_db, k=args.k),
            "mAP@all": metrics.mean_average_precision(q, db, y_q, y_db),
        }
        p, r = metrics.precision_recall_at_radius(q, db, y_q, y_db, radius=2)
        rows["P@r<=2"], rows["R@r<=2"] = p, r
        if args.hierarchy:
            from . import datasets

            accessor = {
                "fashion-mnist": datasets.fashion_mnist_hierarchy,
                "cifar100": datasets.cifar100_hierarchy,
                "imagenet": datasets.imagenet_hierarchy,
            }[args.hierarchy]
            rows["mAHP@250"] = metrics.mean_average_hierarchical_precision(
                q, db, y_q, y_db, similarity=accessor(), k=250
            )
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    for name, value in rows.items():
        print(f"{name}\t{float(value):.4f}")
    return 0


# --------------------------------------------------------------------- parser
def _add_data_args(p):
    p.add_argument(
        "--dataset",
        default="digits",
        choices=["digits", "fashion-mnist", "cifar100"],
        help="dataset (default: digits, which ships with scikit-learn)",
    )
    p.add_argument(
        "--data-path",
        default=None,
        help="folder of the dataset files, where the loader needs one",
    )
    p.add_argument(
        "--max-train",
        type=_positive_int,
        default=None,
        help="use a stratified subset of this many training items",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (deep hashers)")
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="override the deep hashers' number of epochs",
    )


def build_parser():
    """The argument parser of the ``sklhash`` command."""
    parser = _Parser(
        prog="sklhash",
        description="Learn binary codes, search them and benchmark hashers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "benchmark",
        help="compare hashers: methods x bits x seeds",
        description="Train each method at each code length, "
        "evaluate with sklhash.metrics and write results.json, "
        "results.md and pr_curves.png.",
    )
    _add_data_args(p)
    p.add_argument(
        "--methods", nargs="+", default=None, help="methods to run (default: all)"
    )
    p.add_argument("--bits", nargs="+", type=_positive_int, default=[16, 32, 64])
    p.add_argument(
        "--seeds", type=_positive_int, default=1, help="number of seeds (0..N-1)"
    )
    p.add_argument(
        "--max-query",
        type=_positive_int,
        default=None,
        help="use a stratified subset of this many queries",
    )
    p.add_argument("--out", default="results", help="output folder")
    p.set_defaults(func=_cmd_benchmark)

    p = sub.add_parser("fit", help="fit one hasher and save it with joblib")
    _add_data_args(p)
    p.add_argument("--method", required=True)
    p.add_argument("--bits", type=_positive_int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="model file (.joblib)")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("encode", help="encode a .npy feature array with a saved model")
    p.add_argument("model")
    p.add_argument("X", help=".npy array of features")
    p.add_argument("--out", required=True, help="output .npy of packed codes")
    p.set_defaults(func=_cmd_encode)

    p = sub.add_parser("search", help="k nearest database codes for each query code")
    p.add_argument("codes_db")
    p.add_argument("codes_q")
    p.add_argument("-k", type=_positive_int, default=10)
    p.add_argument(
        "--backend", default="auto", choices=["auto", "numpy", "faiss", "mih"]
    )
    p.add_argument(
        "--out", default=None, help=".npz for distances and indices (default: print)"
    )
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser(
        "evaluate", help="retrieval metrics of query codes against database codes"
    )
    p.add_argument("codes_db")
    p.add_argument("codes_q")
    p.add_argument("labels_db")
    p.add_argument("labels_q")
    p.add_argument("-k", type=_positive_int, default=1000)
    p.add_argument(
        "--hierarchy",
        default=None,
        choices=["fashion-mnist", "cifar100", "imagenet"],
        help="shipped hierarchy for mAHP@250",
    )
    p.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv=None):
    """Run the ``sklhash`` command; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except CLIError as exc:
        # One line, whatever the underlying message looked like.
        print("sklhash: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sklhash: interrupted", file=sys.stderr)
        return 130
