"""The ``sklhash`` command: benchmark, fit, encode, search, evaluate.

Every failure the user can cause (a bad path, an unknown method or
parameter, a dataset that is not installed, a malformed array file, an
output that cannot be written) ends with one line on stderr and exit status
2, never a traceback. Ctrl-C ends with exit status 130 and writes nothing:
outputs are written only after the work finished, each through a temporary
name renamed into place, so previous outputs stay untouched.
"""

import argparse
import ast
import contextlib
import errno
import os
import signal
import sys
import tempfile
import threading
import time
import warnings

import numpy as np

from .utils._io import atomic_write
from .utils._threads import limit_threads, resolve_threads

__all__ = ["main", "build_parser"]

_SHIPPED_HIERARCHIES = ("fashion-mnist", "cifar100", "imagenet")
_PREPROCESSING = ("none", "standard", "minmax", "l2")
# Parameters set by their own options; --param may not set them twice.
_OPTION_OF_PARAM = {
    "bits": "--bits",
    "random_state": "--seed",
    "device": "--device",
    "max_epochs": "--epochs",
    "hierarchy": "--hierarchy",
    "verbose": "--verbose",
    "n_jobs": "--threads",
}


class CLIError(Exception):
    """A user error: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError(message)


# ------------------------------------------------------------ argument types
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


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0 or value > 2**32 - 1:
        raise argparse.ArgumentTypeError(
            f"expected a seed between 0 and 2**32 - 1, got {text!r}"
        )
    return value


def _threads(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of threads or -1 (all CPUs), got {text!r}"
        )
    return value


def _param(text):
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        # Literals only (numbers, strings, tuples, lists, True/False/None):
        # nothing from the command line is ever evaluated as code.
        parsed = ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        parsed = value.strip()  # a bare word such as cnn or householder
    return name, parsed


# ---------------------------------------------------------------- checks
def _check_device(device):
    """Refuse a device that does not exist here before any work starts."""
    if device is None or device in ("cpu", "auto"):
        return
    name, _, index = device.partition(":")
    if name != "cuda" or (index and not index.isdigit()):
        raise CLIError(
            f"--device {device!r} is not one of cpu, cuda, cuda:N or auto"
        )
    try:
        import torch
    except ImportError:
        raise CLIError(
            f"--device {device!r} needs PyTorch, which is not installed"
        ) from None
    if not torch.cuda.is_available():
        raise CLIError(
            f"--device {device!r} was requested but CUDA is not available here; "
            "use --device cpu or auto"
        )
    if index and int(index) >= torch.cuda.device_count():
        raise CLIError(
            f"--device {device!r}: only {torch.cuda.device_count()} CUDA device(s)"
        )


def _check_method(name):
    """A known method whose libraries are installed, before any work."""
    from ._registry import HASHERS
    from .utils._optional import INSTALL, available

    specs = {spec.method: spec for spec in HASHERS}
    if name not in specs:
        raise CLIError(f"unknown method {name!r}; choose from {', '.join(specs)}")
    for module in specs[name].requires:
        if not available(module):
            raise CLIError(
                f"method {name!r} needs {module}, which is not installed: "
                f"{INSTALL.get(module, 'pip install ' + module)}"
            )


def _probe_writable(folder, what):
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".sklhash-probe.")
    except OSError as exc:
        raise CLIError(
            f"{what}: folder {folder!r} is not writable ({exc.strerror})"
        ) from None
    os.close(fd)
    os.unlink(probe)


def _check_out_file(path, what="--out"):
    """An output file: its folder exists and is writable, it is no folder."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CLIError(f"{what} {path!r} is a folder; give a file name")
    if os.path.exists(path) and not os.path.isfile(path):
        raise CLIError(f"{what} {path!r} exists and is not a regular file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{what}: output folder {folder!r} does not exist")
    _probe_writable(folder, what)


def _check_out_folder(path, what="--out"):
    """An output folder of a report: no file, parent writable."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(f"{what} {path!r} is a file; give a folder for the report")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CLIError(f"{what}: folder {parent!r} does not exist")
    _probe_writable(parent, what)


@contextlib.contextmanager
def _writing(path):
    """Turn a failed write (full disk, read-only folder) into one line."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            reason = "no space left on the device"
        raise CLIError(f"cannot write {os.fspath(path)!r}: {reason}") from None


@contextlib.contextmanager
def _interruptible():
    """Make Ctrl-C an interruption even where a library catches it.

    skorch's training loop catches ``KeyboardInterrupt`` and returns as if
    training had finished; the flag set here lets the command notice and
    exit 130 without writing a half-trained model.
    """
    interrupted = []

    def check():
        # Called between units of work (each benchmark run), so a swallowed
        # Ctrl-C stops the run at the next boundary instead of at the end.
        if interrupted:
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield check
        return

    def handler(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)
    check()


def _check_optional_dependencies(args):
    """Optional outputs whose library is missing: one warning, before work."""
    from .benchmark import plotting_available
    from .utils._optional import INSTALL

    if getattr(args, "plot", True) and not plotting_available():
        _warn("matplotlib is not installed: pr_curves.png will be skipped "
              f"({INSTALL['matplotlib']})")
        args.plot = False


def _warn(message):
    print("sklhash: warning: " + message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- data files
def _load_array(path, what, key=None):
    """Read a .npy, .npz, .csv or .parquet file into an array."""
    if not os.path.isfile(path):
        raise CLIError(f"{what} file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.files)
                if key in names:
                    return archive[key]
                if len(names) == 1:
                    return archive[names[0]]
                raise CLIError(
                    f"{what} file {path!r} holds arrays {', '.join(names)}; "
                    f"name one of them {key!r} or keep only one"
                )
        if ext == ".csv":
            return _load_csv(path, what, labels=key == "y")
        if ext == ".parquet":
            return _load_parquet(path, what, labels=key == "y")
        return np.load(path, allow_pickle=False)
    except CLIError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        kind = {".npz": ".npz archive", ".csv": "CSV table",
                ".parquet": "Parquet table"}.get(ext, ".npy array")
        message = " ".join(str(exc).split())[:200]
        raise CLIError(
            f"{what} file {path!r} is not a readable {kind}: {message}"
        ) from None


def _load_csv(path, what, labels):
    if labels:
        values = np.loadtxt(path, delimiter=",", dtype=str, ndmin=1)
        if values.ndim != 1:
            raise CLIError(f"{what} file {path!r} must hold one column of labels")
        values = np.char.strip(values)
        try:
            return values.astype(np.int64)
        except ValueError:
            return values
    try:
        return np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError:
        # A header line: the rest must be numbers.
        return np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)


def _load_parquet(path, what, labels):
    try:
        import pandas as pd
    except ImportError:
        raise CLIError(
            f"reading {what} file {path!r} needs pandas and pyarrow: "
            "pip install pandas pyarrow"
        ) from None
    try:
        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise CLIError(f"reading {path!r} needs pyarrow: {exc}") from None
    if labels:
        if frame.shape[1] != 1:
            raise CLIError(f"{what} file {path!r} must hold one column of labels")
        return frame.iloc[:, 0].to_numpy()
    return frame.to_numpy(dtype=np.float64)


def _load_npy(path, what):
    return _load_array(path, what)


def _save_npy(path, array):
    with _writing(path):
        atomic_write(path, lambda fh: np.save(fh, array))


def _load_hierarchy(value):
    from . import datasets

    if value in _SHIPPED_HIERARCHIES:
        accessor = {
            "fashion-mnist": datasets.fashion_mnist_hierarchy,
            "cifar100": datasets.cifar100_hierarchy,
            "imagenet": datasets.imagenet_hierarchy,
        }[value]
        return accessor()
    if not os.path.isfile(value):
        raise CLIError(
            f"--hierarchy {value!r} is neither a shipped hierarchy "
            f"({', '.join(_SHIPPED_HIERARCHIES)}) nor an existing JSON file"
        )
    from .similarity import LabelHierarchy

    try:
        return LabelHierarchy.from_json(value)
    except (ValueError, OSError, KeyError, TypeError) as exc:
        raise CLIError(f"hierarchy file {value!r} could not be read: {exc}") from None


# --------------------------------------------------------------- model files
def _persistence():
    """``(save, load)`` of sklhash's model format (:mod:`sklhash.persistence`).

    None where that package is absent (a tree from before it), in which
    case ``fit`` falls back to joblib and reading one needs --allow-pickle.
    """
    try:
        from .persistence import load, save
    except ImportError as exc:
        if exc.name and exc.name.startswith("sklhash.persistence"):
            return None
        raise
    return save, load


def _looks_like_pickle(path):
    with open(path, "rb") as fh:
        head = fh.read(2)
    # Pickle protocol 2+ starts with PROTO (0x80); joblib's compressed files
    # start with a zlib header or its own magic.
    return head[:1] == b"\x80" or head in (b"x\x9c", b"x\x01", b"x\xda", b"ZF")


def _save_model(model, path):
    api = _persistence()
    with _writing(path):
        if api is not None:
            api[0](model, path)
            return "sklhash"
        import joblib

        atomic_write(path, lambda fh: joblib.dump(model, fh))
        return "joblib"


def _load_model(path, allow_pickle=False):
    if not os.path.exists(path):
        raise CLIError(f"model file {path!r} does not exist")
    api = _persistence()
    error = None
    if api is not None:
        try:
            return api[1](path)
        except (ValueError, TypeError, OSError, KeyError) as exc:
            error = exc
    if os.path.isfile(path) and _looks_like_pickle(path) or allow_pickle:
        if not allow_pickle:
            raise CLIError(
                f"model file {path!r} is a pickle, and loading a pickle runs any "
                "code it holds; refit with sklhash fit, or pass --allow-pickle "
                "if you trust the file"
            )
        if not os.path.isfile(path):
            raise CLIError(f"model file {path!r} is not a file")
        _warn(f"loading pickle {path!r}: this runs any code the file holds")
        import joblib

        try:
            return joblib.load(path)
        except Exception as exc:  # a foreign file can fail in many ways
            message = " ".join(str(exc).split())[:200]
            raise CLIError(
                f"model file {path!r} could not be loaded: {message}"
            ) from None
    detail = f": {' '.join(str(error).split())[:200]}" if error else ""
    raise CLIError(f"model file {path!r} could not be loaded{detail}")


def _check_model(model, path):
    if not hasattr(model, "transform"):
        raise CLIError(f"model file {path!r} does not hold a hasher")
    return model


# ------------------------------------------------------------------- output
def _format_row(row):
    parts = [f"{row['method']:>16s}", f"{row['bits']:>4d} bits", f"seed {row['seed']}"]
    for key in ("mAP@1000", "mAP@all", "P@r<=2", "mAHP@250"):
        if key in row:
            parts.append(f"{key} {row[key]:.3f}")
    parts.append(f"fit {row['fit_seconds']:.1f}s")
    return "  ".join(parts)


# --------------------------------------------------------------- subcommands
def _cmd_benchmark(args):
    from . import benchmark

    methods = args.methods or list(benchmark.METHODS)
    for m in methods:
        _check_method(m)
    _check_device(args.device)
    _check_out_folder(args.out)
    if os.path.isdir(args.out):
        allowed = {"results.json", "results.md", "pr_curves.png"}
        foreign = sorted(set(os.listdir(args.out)) - allowed)
        if foreign:
            raise CLIError(
                f"--out {args.out!r} holds {foreign[0]!r}, which is not part of a "
                "sklhash report; give a new or empty folder"
            )
    _check_optional_dependencies(args)
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
    checks = []

    def progress(row):
        for check in checks:
            check()
        done[0] += 1
        elapsed = time.perf_counter() - start
        bar = "#" * (20 * done[0] // total)
        print(
            f"[{bar:<20s}] {done[0]:>3d}/{total} {elapsed:6.0f}s  " + _format_row(row),
            flush=True,
        )

    with _interruptible() as check:
        checks.append(check)
        try:
            results = benchmark.run_benchmark(
                data,
                methods,
                bits=args.bits,
                seeds=seeds,
                device=args.device,
                max_epochs=args.epochs,
                progress=progress,
                threads=args.threads,
            )
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    extra = {
        "command": ["sklhash", *args.argv],
        "settings": {
            "methods": methods,
            "bits": args.bits,
            "seeds": seeds,
            "max_epochs": args.epochs,
            "max_train": args.max_train,
            "max_query": args.max_query,
        },
        "environment": benchmark.environment(args.device, args.threads),
    }
    with _writing(args.out):
        try:
            paths = benchmark.write_report(
                results, args.out, data, plot=args.plot, extra=extra
            )
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    print()
    print(benchmark.markdown_table(benchmark.summarize(results)))
    print("wrote " + ", ".join(paths))
    return 0


def _load_dataset(args):
    from . import benchmark

    try:
        return benchmark.load_benchmark_data(
            args.dataset or "digits",
            data_path=args.data_path,
            max_train=args.max_train,
            max_query=getattr(args, "max_query", None),
            seed=0,
        )
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot load dataset {args.dataset!r}: {exc}") from None


def _training_data(args):
    """(name, X, y, hierarchy) from --X/--y or from --dataset."""
    if args.X is None:
        if args.y is not None:
            raise CLIError("--y needs --X: give the features of the labelled rows")
        data = _load_dataset(args)
        return data.name, data.X_train, data.y_train, data.hierarchy
    if args.dataset is not None:
        raise CLIError("give either --X (your own data) or --dataset, not both")
    X = _load_array(args.X, "--X", key="X")
    y = None if args.y is None else _load_array(args.y, "--y", key="y")
    if args.max_train is not None:
        raise CLIError("--max-train applies to --dataset; subsample your --X yourself")
    return os.path.basename(args.X), X, y, None


def _build_model(args, hierarchy):
    from sklearn.base import clone

    from . import benchmark
    from ._registry import by_method

    cls = by_method(args.method).load()
    accepted = set(cls(bits=args.bits).get_params())
    params = {}
    for name, value in args.param or []:
        if name in _OPTION_OF_PARAM and name in accepted:
            raise CLIError(
                f"--param {name}=...: set {name} with {_OPTION_OF_PARAM[name]}"
            )
        if name not in accepted:
            raise CLIError(
                f"--param {name}: {cls.__name__} has no parameter {name!r}; its "
                f"parameters are {', '.join(sorted(accepted))}"
            )
        params[name] = value
    if hierarchy is not None and "hierarchy" not in accepted:
        raise CLIError(f"--hierarchy: method {args.method!r} takes no hierarchy")
    if args.verbose and "verbose" in accepted:
        params["verbose"] = 1
    try:
        est = benchmark.make_method(
            args.method,
            args.bits,
            args.seed,
            hierarchy=hierarchy,
            device=args.device,
            max_epochs=args.epochs,
            # The hasher's own default unless --threads is given.
            n_jobs=None if args.threads is None else resolve_threads(args.threads),
            **params,
        )
        clone(est)  # parameters are stored verbatim: nothing else to check yet
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
    if args.preprocess == "none":
        return est
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler

    step = {"standard": StandardScaler, "minmax": MinMaxScaler,
            "l2": Normalizer}[args.preprocess]()
    return Pipeline([(args.preprocess, step), ("hasher", est)])


def _cmd_fit(args):
    from . import benchmark

    _check_method(args.method)
    _check_device(args.device)
    _check_out_file(args.out)
    hierarchy = None
    if args.hierarchy is not None:
        hierarchy = _load_hierarchy(args.hierarchy)
    name, X, y, data_hierarchy = _training_data(args)
    if hierarchy is None:
        hierarchy = data_hierarchy
    model = _build_model(args, hierarchy)
    hasher = model.steps[-1][1] if hasattr(model, "steps") else model
    supervised = benchmark._is_supervised(hasher)
    if supervised and y is None:
        raise CLIError(f"method {args.method!r} needs labels: give --y")
    fit_args = (X, y) if supervised else (X,)
    with _interruptible():
        try:
            with limit_threads(args.threads):
                t0 = time.perf_counter()
                model.fit(*fit_args)
                seconds = time.perf_counter() - t0
        except ValueError as exc:
            raise CLIError(f"cannot fit {args.method!r}: {exc}") from None
    fmt = _save_model(model, args.out)
    epochs = getattr(hasher, "history_", None)
    trained = ""
    if epochs is not None:
        trained = f", {len(epochs)} epoch" + ("s" if len(epochs) != 1 else "")
    print(
        f"fitted {type(hasher).__name__}(bits={args.bits}) on {len(X)} {name} "
        f"items in {seconds:.1f}s{trained}; saved to {args.out} ({fmt} format)"
    )
    return 0


def _cmd_encode(args):
    if (args.out is None) == (args.to is None):
        raise CLIError("give exactly one of --out FILE and --to DATABASE")
    if args.out is not None:
        _check_out_file(args.out)
    model = _check_model(_load_model(args.model, args.allow_pickle), args.model)
    X = _load_array(args.X, "input", key="X")
    ids = None if args.ids is None else _load_npy(args.ids, "ids")
    try:
        with limit_threads(args.threads):
            codes = model.transform(X)
    except ValueError as exc:
        raise CLIError(f"cannot encode {args.X!r}: {exc}") from None
    if args.to is not None:
        return _store_codes(args, model, codes, ids)
    _save_npy(args.out, codes)
    print(f"encoded {len(codes)} items to {codes.shape[1]}-byte codes in {args.out}")
    return 0


def _store_codes(args, model, codes, ids):
    """encode --to: add the codes to a database table (one transaction)."""
    from .store import driver_errors, open_index

    hasher = model.steps[-1][1] if hasattr(model, "steps") else model
    try:
        with open_index(
            args.to, table=args.table, n_bits=getattr(hasher, "n_bits_", None)
        ) as index:
            new = index.add(codes, ids=ids)
            where = repr(index)  # the DSN without its password
    except (ValueError, ImportError, *driver_errors()) as exc:
        raise CLIError(f"cannot store codes: {exc}") from None
    span = f" (ids {new[0]}..{new[-1]})" if len(new) else ""
    print(f"added {len(new)} codes{span} to {where}")
    return 0


def _codes(path, what):
    from .codes import check_codes

    try:
        return check_codes(_load_npy(path, what), input_name=f"{what} file {path!r}")
    except ValueError as exc:
        raise CLIError(str(exc)) from exc


def _print_lines(lines):
    """Print to stdout; a reader that stopped (``| head``) ends quietly."""
    try:
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would report the closed pipe again when flushing stdout at
        # exit; point stdout at /dev/null so it exits quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a tool killed by the closed pipe
    return 0


def _search_database(args):
    """search --index: k-NN or radius search in a database table."""
    from .store import driver_errors, open_index

    if len(args.codes) != 1:
        raise CLIError("with --index give only the query codes file")
    if args.backend != "auto":
        raise CLIError("--backend chooses how .npy codes are searched, not --index")
    q = _codes(args.codes[0], "query codes")
    try:
        with open_index(args.index, table=args.table, create=False) as index:
            if args.radius is None:
                return (*index.kneighbors(q, n_neighbors=args.k), q)
            return (*index.radius_neighbors(q, radius=args.radius), q)
    except (ValueError, ImportError, *driver_errors()) as exc:
        raise CLIError(str(exc)) from None


def _cmd_search(args):
    from .neighbors import HammingIndex

    if args.out:
        _check_out_file(args.out)
    if args.index is not None:
        dist, idx, q = _search_database(args)
        return _search_output(args, dist, idx, q)
    if len(args.codes) != 2:
        raise CLIError(
            "give the database and query codes files (or --index DATABASE and "
            "the query codes file)"
        )
    codes_db, codes_q = args.codes
    if args.backend == "faiss":
        from .utils._optional import INSTALL, available

        if not available("faiss"):
            raise CLIError(
                f"--backend faiss needs faiss, which is not installed: "
                f"{INSTALL['faiss']}"
            )
    db = _codes(codes_db, "database codes")
    q = _codes(codes_q, "query codes")
    if len(db) == 0:
        raise CLIError(f"database codes file {codes_db!r} holds no codes")
    if db.shape[1] != q.shape[1]:
        raise CLIError(
            f"query codes have {q.shape[1]} bytes but database codes {db.shape[1]}"
        )
    if args.radius is None and args.k > len(db):
        raise CLIError(
            f"-k {args.k} is larger than the database ({len(db)} codes)"
        )
    try:
        index = HammingIndex(backend=args.backend).fit(db)
        if args.radius is None:
            dist, idx = index.kneighbors(q, n_neighbors=args.k)
        else:
            dist, idx = index.radius_neighbors(q, radius=args.radius)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return _search_output(args, dist, idx, q)


def _search_output(args, dist, idx, q):
    if args.out:
        if args.radius is None:
            arrays = {"distances": dist, "indices": idx}
        else:
            # Ragged results: one flat array plus row offsets (CSR layout),
            # so the file loads without pickle.
            lengths = np.array([len(i) for i in idx], dtype=np.int64)
            arrays = {
                "distances": np.concatenate([*dist, np.empty(0, np.int32)]),
                "indices": np.concatenate([*idx, np.empty(0, np.int64)]),
                "offsets": np.concatenate([[0], np.cumsum(lengths)]),
            }
        with _writing(args.out):
            atomic_write(args.out, lambda fh: np.savez(fh, **arrays))
        print(f"wrote distances and indices of {len(q)} queries to {args.out}")
        return 0
    return _print_lines(
        f"{i}\t" + " ".join(f"{j}:{d}" for j, d in zip(idx[i], dist[i], strict=True))
        for i in range(len(q))
    )


def _cmd_evaluate(args):
    from . import benchmark

    db = _codes(args.codes_db, "database codes")
    q = _codes(args.codes_q, "query codes")
    if len(db) == 0:
        raise CLIError(f"database codes file {args.codes_db!r} holds no codes")
    y_db = _load_array(args.labels_db, "database labels", key="y")
    y_q = _load_array(args.labels_q, "query labels", key="y")
    hierarchy = _load_hierarchy(args.hierarchy) if args.hierarchy else None
    try:
        row = benchmark.evaluate_codes(
            q, db, y_q, y_db, k=args.k, hierarchy=hierarchy, radius=args.radius
        )
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return _print_lines(f"{name}\t{value:.4f}" for name, value in row.items())


# --------------------------------------------------------------------- parser
def _add_device_args(p):
    p.add_argument(
        "--device",
        default="cpu",
        help="where deep hashers train: cpu, cuda, cuda:N or auto (default: cpu)",
    )
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="number of epochs of the deep hashers (default: each one's own)",
    )
    p.add_argument(
        "--threads",
        type=_threads,
        default=None,
        help="CPU threads for BLAS and torch, -1 for all; also the n_jobs of "
        "hashers that take one (default: half the available CPUs, at most 8, "
        "for BLAS, and each hasher's own n_jobs, so a shared machine is not "
        "oversubscribed)",
    )


def _add_data_args(p, default_dataset="digits"):
    p.add_argument(
        "--dataset",
        default=default_dataset,
        choices=["digits", "fashion-mnist", "cifar100"],
        help="built-in dataset (default: digits, which ships with scikit-learn)",
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


def build_parser():
    """The argument parser of the ``sklhash`` command."""
    from ._registry import HASHERS

    methods = ", ".join(spec.method for spec in HASHERS)
    parser = _Parser(
        prog="sklhash",
        description="Learn binary codes, search them and benchmark hashers.",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )

    p = sub.add_parser(
        "benchmark",
        help="compare hashers: methods x bits x seeds",
        description="Train each method at each code length, evaluate with "
        "sklhash.metrics and write the report set results.json, results.md "
        "and pr_curves.png into --out, replacing an earlier set as a whole.",
    )
    _add_data_args(p)
    _add_device_args(p)
    p.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help=f"methods to run (default: all of {methods})",
    )
    p.add_argument(
        "--bits",
        nargs="+",
        type=_positive_int,
        default=[16, 32, 64],
        help="code lengths (default: 16 32 64)",
    )
    p.add_argument(
        "--seeds", type=_positive_int, default=1,
        help="number of seeds, run as 0..N-1 (default: 1)",
    )
    p.add_argument(
        "--max-query",
        type=_positive_int,
        default=None,
        help="use a stratified subset of this many queries",
    )
    p.add_argument(
        "--out", default="results",
        help="report folder, new or holding an earlier report (default: results)",
    )
    p.add_argument(
        "--no-plot", dest="plot", action="store_false",
        help="do not draw pr_curves.png",
    )
    p.set_defaults(func=_cmd_benchmark)

    p = sub.add_parser(
        "fit",
        help="fit one hasher on your data or a built-in dataset and save it",
        description="Fit one hasher and save the model. Train on your own "
        "arrays with --X (and --y for supervised methods; .npy, .npz, .csv or "
        ".parquet) or on a built-in --dataset.",
    )
    _add_data_args(p, default_dataset=None)
    _add_device_args(p)
    p.add_argument(
        "--method", required=True, metavar="METHOD",
        help=f"the hasher: one of {methods}",
    )
    p.add_argument("--X", default=None, metavar="FILE",
                   help="training features, one row per item")
    p.add_argument("--y", default=None, metavar="FILE",
                   help="training labels, one per row of --X")
    p.add_argument("--bits", type=_positive_int, default=32,
                   help="code length (default: 32)")
    p.add_argument("--seed", type=_seed, default=0,
                   help="random_state of the hasher (default: 0)")
    p.add_argument(
        "--param", action="append", type=_param, metavar="NAME=VALUE",
        help="any other parameter of the hasher, e.g. --param kl_weight=0.1 "
        "(a Python literal, or a bare word for a string); repeatable",
    )
    p.add_argument(
        "--hierarchy", default=None, metavar="NAME_OR_FILE",
        help="label hierarchy for methods that take one: "
        f"{', '.join(_SHIPPED_HIERARCHIES)} or a JSON file of LabelHierarchy.to_json",
    )
    p.add_argument(
        "--preprocess", default="none", choices=_PREPROCESSING,
        help="scaling step fitted before the hasher and saved with it: "
        "standard (zero mean, unit variance), minmax ([0, 1]) or l2 (unit rows)",
    )
    p.add_argument("--verbose", action="store_true",
                   help="print a line per epoch of the deep hashers")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="model file to write (sklhash.save's format, which "
                   "loads without pickle; read by encode)")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser(
        "encode", help="encode a feature array with a saved model",
        description="Encode features with a model written by sklhash fit.",
    )
    p.add_argument("model", help="model file written by sklhash fit")
    p.add_argument("X", help="features: .npy, .npz, .csv or .parquet")
    p.add_argument("--out", default=None, help="output .npy of packed codes")
    p.add_argument(
        "--to", default=None, metavar="DATABASE",
        help="instead of --out: add the codes to a table in postgresql://... "
        "or a .duckdb file (created if absent)",
    )
    p.add_argument("--table", default="sklhash_codes",
                   help="table for --to (default: sklhash_codes)")
    p.add_argument("--ids", default=None,
                   help="with --to: .npy of int64 ids (default: numbered on)")
    p.add_argument(
        "--allow-pickle", action="store_true",
        help="also load pickle/joblib model files; they run any code they "
        "hold, so only for files you trust",
    )
    p.add_argument("--threads", type=_threads, default=None,
                   help="CPU threads (default: half the available CPUs)")
    p.set_defaults(func=_cmd_encode)

    p = sub.add_parser(
        "search", help="nearest database codes for each query code",
        description="The k nearest database codes of each query, or all "
        "within --radius. Prints 'query<TAB>index:distance ...' lines "
        "unless --out is given.",
    )
    p.add_argument(
        "codes", nargs="+", metavar="CODES",
        help="database and query .npy codes (uint8, packed); with --index "
        "only the query codes",
    )
    p.add_argument(
        "--index", default=None, metavar="DATABASE",
        help="search a table in postgresql://... or a .duckdb file instead "
        "of a .npy database (results are the table's ids)",
    )
    p.add_argument("--table", default="sklhash_codes",
                   help="table for --index (default: sklhash_codes)")
    p.add_argument("-k", type=_positive_int, default=10,
                   help="number of neighbours (default: 10)")
    p.add_argument(
        "--radius", type=int, default=None,
        help="instead of -k: every code within this Hamming distance",
    )
    p.add_argument(
        "--backend", default="auto", choices=["auto", "numpy", "faiss", "mih"],
        help="search backend of HammingIndex (default: auto)",
    )
    p.add_argument(
        "--out", default=None,
        help=".npz of distances and indices (with --radius also offsets; "
        "default: print)",
    )
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser(
        "evaluate", help="retrieval metrics of query codes against database codes",
        description="mAP@k, mAP@all, precision and recall within --radius, "
        "and mAHP@250 with a hierarchy, as sklhash benchmark computes them.",
    )
    p.add_argument("codes_db", help=".npy of database codes")
    p.add_argument("codes_q", help=".npy of query codes")
    p.add_argument("labels_db", help="labels of the database rows")
    p.add_argument("labels_q", help="labels of the query rows")
    p.add_argument("-k", type=_positive_int, default=1000,
                   help="cut-off of mAP@k (default: 1000)")
    p.add_argument("--radius", type=int, default=2,
                   help="Hamming radius of P@r and R@r (default: 2)")
    p.add_argument(
        "--hierarchy", default=None, metavar="NAME_OR_FILE",
        help=f"hierarchy for mAHP@250: {', '.join(_SHIPPED_HIERARCHIES)} or a "
        "JSON file",
    )
    p.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv=None):
    """Run the ``sklhash`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        args.argv = argv
        with warnings.catch_warnings():
            # Library warnings are not errors of the command line; their
            # text goes to stderr as one line each.
            warnings.showwarning = _show_warning
            return args.func(args)
    except CLIError as exc:
        # One line, whatever the underlying message looked like.
        print("sklhash: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sklhash: interrupted; nothing written", file=sys.stderr)
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None):
    _warn(" ".join(str(message).split()))
