"""The deep-hasher base: a scikit-learn estimator that trains a torch network.

Every torch hasher (SemanticKLHasher, NSHasher, the deep baselines) derives
from :class:`BaseDeepHasher`. Following skorch's advice to compose rather
than inherit, the hasher is a plain scikit-learn estimator whose ``fit``
validates the data, builds a private skorch ``NeuralNet`` (``net_``) and trains
it; ``__init__`` only stores parameters, so ``clone``, ``GridSearchCV`` and
scikit-learn's common checks work.

The net is an ordinary skorch net: a module **class** with ``module__*``
arguments, a criterion **class** (a pure-torch loss under :mod:`sklhash.nn`,
called as ``criterion(output, batch)``) with ``criterion__*`` arguments, and
no reference back to the estimator. Epoch schedules live in the criterion
(its ``epoch`` attribute is set by :class:`~._skorch_net.CriterionEpoch`).
Inference runs through skorch's ``net.evaluation_step``, chunk by chunk
(``forward_iter`` without its row-by-row DataLoader).

Writing a deep hasher
---------------------
A subclass lists every parameter of the base in its own ``__init__`` (as
scikit-learn requires explicit signatures; the docstring may use the
``%(deep_params)s`` and ``%(deep_attrs)s`` placeholders, filled from the
shared fragments below with the subclass's own defaults), extends
``_parameter_constraints`` and implements:

``_criterion(self, training, **fitted)``
    Returns ``(criterion_class, kwargs)``. The criterion takes
    ``(output, batch)``: the module's output and a dict of tensors on the
    training device, ``"X"`` (inputs), ``"idx"`` (row numbers) and every
    per-sample array from ``_fit_targets``. A batch can hold a single
    sample, and pairwise losses must stay finite then.

and may override:

``_fit_targets(self, X, y)``
    Validates ``y`` and returns ``(arrays, fitted, training)``: per-sample
    numpy arrays added to every batch, learned attributes (``classes_``,
    ``centers_``, ...) published only once training succeeded, and
    training-only arguments handed to ``_module`` / ``_criterion``. When
    ``fit`` got a :class:`~sklhash.dask.BlockStream`, ``X`` is a stand-in
    with the training set's ``shape`` and a ``feature_std()`` method (one
    pass over the data) but no values: turning it into an array raises a
    ``ValueError`` saying the hasher cannot be trained from a stream.
``_module(self, input_shape, training, **fitted)``
    Returns ``(module_class, kwargs)``; the default is
    :class:`~sklhash.nn.backbones.HashNetwork`. The module's ``forward(X,
    augment=False)`` returns one output type in train and eval mode.
``_codes_from_output(self, out, fitted)``
    The (n, bits) continuous codes from a batch of module output; the
    default returns ``tanh(out)``.
``_fitted_from_net(self, net)``
    Learned attributes read off the trained net (e.g. HashNet's ``beta_``).
``_net_meta`` (class attribute)
    Names of the fitted attributes that ``_module`` / ``_criterion`` need.
``_uses_targets`` (class attribute)
    ``True`` for supervised hashers: ``fit`` then requires ``y`` unless
    ``_targets_optional(self)`` says otherwise.

Rebuilding a fitted net (the persistence contract)
--------------------------------------------------
A fitted hasher is fully described by ``get_params()``, its ``_``-suffixed
attributes other than ``net_`` and ``history_`` (``input_shape_``,
``device_``, ``n_bits_``, ``quantizer_``, and the class's own such as
``classes_``, ``target_similarity_``, ``beta_``), and the trained
``net_.module_.state_dict()``. ``est._make_net(input_shape, device,
**fitted_meta)`` returns an initialised, untrained skorch net built from the
parameters and ``fitted_meta = {name: getattr(est, name) for name in
est._net_meta}``; loading the ``state_dict`` into its ``module_`` restores
the trained network. ``est._rebuild_net(device=None)`` does exactly that
(without the ``state_dict``) from a fitted or restored estimator, leaving
the caller's torch random state alone. Training-only inputs (``training``)
are not needed to encode.

Determinism: ``fit`` seeds torch from ``random_state`` inside
``torch.random.fork_rng``, so the caller's global torch state is untouched and
the same ``random_state`` gives the same codes on CPU. Pickling goes through
skorch, which maps a CUDA-trained network to the CPU when no GPU is present.

Faults: ``fit`` publishes nothing until every epoch ran and every weight is
finite. A non-finite loss or weight raises ``ValueError`` naming the epoch;
Ctrl-C (``KeyboardInterrupt``, which skorch's loop would swallow) is raised
again, unless ``on_interrupt="keep"``, which keeps the partly trained model
with a warning naming the epochs completed. The estimator's previous fitted
state is left as it was in every failing case (see
:class:`~sklhash._base.BaseHasher`).
"""

import copy
import inspect
import sys
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from sklhash.utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    validate_data,
)

from .._base import BaseHasher
from ..utils._device import resolve_device

__all__ = ["BaseDeepHasher"]

_EARLY_STOPPING_PATIENCE = 5

# Rows of a streamed training set that a second stage (Householder
# quantiser, NSHasher's ITQ) is fitted on: all of them up to this many, else
# a uniform sample. Their outputs are held in memory (100,000 x 64 float32 is
# 26 MB); the rotation of a 64-bit code is well determined long before that.
_STREAM_SECOND_STAGE_ROWS = 100_000

# Training rows whose codes are compared after fit to catch a collapsed
# model (see BaseDeepHasher._warn_if_collapsed): one cheap forward pass.
_COLLAPSE_CHECK_ROWS = 512


def _as_stream(X):
    """``X`` if it is a :class:`~sklhash.dask.BlockStream`, else None.

    Looked up in ``sys.modules``, so an ordinary fit imports nothing: if the
    module was never imported, ``X`` cannot be one of its streams.
    """
    module = sys.modules.get("sklhash.dask._stream")
    if module is not None and isinstance(X, module.BlockStream):
        return X
    return None


class _StreamedX:
    """What ``_fit_targets`` receives in place of ``X`` for a streamed fit.

    It has the training set's ``shape``, ``ndim`` and ``dtype`` (float32,
    what the network trains on) but no values: a hook that needs more calls
    ``feature_std()`` (one pass over the blocks) or fails with a
    ``ValueError`` when it tries to turn it into an array.
    """

    def __init__(self, stream, estimator_name):
        self.stream = stream
        self.shape = tuple(int(d) for d in stream.X.shape)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(np.float32)
        self._name = estimator_name

    def __len__(self):
        return self.shape[0]

    def feature_std(self):
        """Per-feature standard deviation (ddof=0), from one pass."""
        return self.stream._feature_std()

    def __array__(self, *args, **kwargs):
        raise ValueError(
            f"{self._name} with these parameters needs the whole training set "
            "in memory and cannot be trained from a BlockStream; fit it on an "
            "array (a sample of the data)."
        )


# The parameters every deep hasher shares, documented once. ``{name}`` is
# replaced by the subclass's default for ``name``.
_DEEP_PARAMS_DOC = """\
    backbone : {{"identity", "mlp", "cnn"}} or torch.nn.Module, default={backbone}
        Feature extractor before the hash layer: ``"identity"`` for
        precomputed features, ``"mlp"`` for raw feature vectors, ``"cnn"``
        for raw images, channels first: ``(n, C, H, W)`` arrays or flat rows
        of a square image (a channels-last ``(n, H, W, C)`` array is refused
        with a ``ValueError``). A module is deep-copied at every ``fit``, so
        the module passed is never trained in place.
    hidden_layer_sizes : tuple of int, default={hidden_layer_sizes}
        Fully connected layers of the ``"mlp"`` and ``"cnn"`` backbones.
    max_epochs : int, default={max_epochs}
        Number of passes over the training data.
    batch_size : int, default={batch_size}
        Mini-batch size (clipped to the number of samples); the pairs, views
        or targets of the loss are formed within a batch.
    lr : {lr_type}, default={lr}
        Learning rate.{lr_note}
    optimizer : {{"adam", "adamw", "sgd"}}, default={optimizer}
        Optimiser.
    weight_decay : float, default={weight_decay}
        L2 penalty of the optimiser.
    device : str, default={device}
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when
        available); where ``fit`` trains and where the model encodes.
    n_jobs : int or None, default={n_jobs}
        Threads torch and BLAS may use during ``fit`` and encoding
        (scikit-learn's convention: None means 1 unless in a
        :func:`joblib.parallel_config` context, -1 means all CPUs). The
        setting is restored afterwards. One thread is the default because
        more were measured slower for these small networks on a shared CPU:
        on a 2-core machine used by others, 32-bit codes of digits, 5
        epochs, 2 threads took 4.7 times (NSHasher) and 6.9 times
        (SemanticKLHasher) as long as 1, and 3.5 and 6.6 times with another
        busy process beside them.
    random_state : int, RandomState instance or None, default={random_state}
        Seeds initialisation, batch order and every random choice of the
        method (views, KL target draws, hash centres); the same value gives
        the same codes on CPU.
    verbose : int, default={verbose}
        1 prints a line per epoch and shows a progress bar.
    callbacks : list of skorch callbacks or None, default={callbacks}
        Extra callbacks of the private ``NeuralNet``.
    validation_fraction : float or None, default={validation_fraction}
        Fraction of the training data held out to report ``valid_loss`` on
        (and to stop early on). None trains on everything.
    early_stopping : bool, default={early_stopping}
        Stop when the monitored loss (validation loss if there is a
        validation split, else training loss) has not improved for 5
        epochs, and keep the best weights.
    on_interrupt : {{"raise", "keep"}}, default={on_interrupt}
        What ``fit`` does on ``KeyboardInterrupt`` (Ctrl-C) during training:
        ``"raise"`` raises it again and keeps nothing of this fit (a
        previous model stays as it was); ``"keep"`` keeps the partly trained
        model and warns how many epochs it had.
"""

_DEEP_ATTRS_DOC = """\
    net_ : skorch.NeuralNet
        The trained network wrapper.
    history_ : skorch.History
        Per-epoch losses.
    device_ : str
        Device resolved from ``device``.
    input_shape_ : tuple of int
        Shape of one training sample (``(n_features,)`` or ``(C, H, W)``).
    quantizer_ : HouseholderQuantizer, ITQHasher or None
        Second stage mapping the network's outputs to codes: a
        :class:`~sklhash.HouseholderQuantizer` with
        ``quantization="householder"``, :class:`~sklhash.NSHasher`'s
        :class:`~sklhash.ITQHasher` on its latents, else None.
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit`` (channels for image arrays).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when they are all strings.
"""


def _doc_value(value):
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _fill_docstring(cls):
    doc = cls.__dict__.get("__doc__")
    if not doc or "%(deep_" not in doc:
        return
    defaults = {
        name: _doc_value(p.default)
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    lr_type, lr_note = getattr(cls, "_lr_doc", ("float", ""))
    defaults.update(lr_type=lr_type, lr_note=lr_note)
    cls.__doc__ = doc.replace(
        "%(deep_params)s", _DEEP_PARAMS_DOC.format(**defaults)
    ).replace("%(deep_attrs)s", _DEEP_ATTRS_DOC)


def _n_threads(n_jobs):
    """Threads for ``n_jobs``, scikit-learn's convention.

    None means 1 unless a :func:`joblib.parallel_config` context sets
    ``n_jobs``; -1 means all CPUs, -2 all but one, and so on.
    """
    from joblib import effective_n_jobs

    if n_jobs == 0:
        raise ValueError(
            "n_jobs=0 has no meaning; use None or 1 (one thread), a larger "
            "number of threads, or -1 for all CPUs."
        )
    return max(1, int(effective_n_jobs(n_jobs)))


def _limit_threads(n_jobs):
    """torch and BLAS threads scoped to one fit or encoding, then restored."""
    from ..utils._threads import limit_threads

    return limit_threads(_n_threads(n_jobs), torch=True)


def _silent(*args, **kwargs):
    """Sink of the early-stopping callback (module level, so it pickles)."""


class BaseDeepHasher(BaseHasher):
    """Base class of the hashers that train a torch network through skorch.

    Do not use it directly; see the module docstring for the hooks.

    Parameters
    ----------
    bits : int
        Code length.
%(deep_params)s    quantization : str or None, default=None
        ``"householder"`` trains without quantisation term and then fits a
        :class:`~sklhash.HouseholderQuantizer` on the training outputs
        (two-stage); other values are interpreted by the subclass's loss.

    Attributes
    ----------
%(deep_attrs)s"""

    _parameter_constraints = {
        **BaseHasher._parameter_constraints,
        "backbone": [StrOptions({"identity", "mlp", "cnn"}), HasMethods(["forward"])],
        "hidden_layer_sizes": ["array-like"],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions({"adam", "adamw", "sgd"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "early_stopping": ["boolean"],
        "on_interrupt": [StrOptions({"raise", "keep"})],
        "quantization": [StrOptions({"householder"}), None],
    }

    _uses_targets = False
    _net_meta = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _fill_docstring(cls)

    def __init__(
        self,
        bits,
        *,
        backbone="mlp",
        hidden_layer_sizes=(512,),
        max_epochs=20,
        batch_size=256,
        lr=1e-3,
        optimizer="adam",
        weight_decay=0.0,
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
        callbacks=None,
        validation_fraction=None,
        early_stopping=False,
        on_interrupt="raise",
        quantization=None,
    ):
        super().__init__(bits=bits)
        self.backbone = backbone
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.on_interrupt = on_interrupt
        self.quantization = quantization

    # ----------------------------------------------------------------- hooks
    def _fit_targets(self, X, y):
        """(per-sample arrays, fitted attributes, training-only arguments)."""
        return {}, {}, {}

    def _targets_optional(self):
        return not self._uses_targets

    def _backbone_copy(self):
        """The ``backbone`` parameter, deep-copied when it is a module.

        A user module is cloned, as scikit-learn clones estimators: training
        never changes the object passed, two hashers sharing it do not
        interfere, and a refit starts from the same weights.
        """
        if isinstance(self.backbone, str):
            return self.backbone
        return copy.deepcopy(self.backbone)

    def _module(self, input_shape, training, **fitted):
        from ..nn.backbones import HashNetwork

        return HashNetwork, {
            "backbone": self._backbone_copy(),
            "input_shape": tuple(input_shape),
            "bits": self.bits,
            "hidden_layer_sizes": tuple(self.hidden_layer_sizes),
        }

    def _criterion(self, training, **fitted):
        raise NotImplementedError(
            f"{type(self).__name__} must implement _criterion."
        )

    def _codes_from_output(self, out, fitted):
        import torch

        return torch.tanh(out)

    def _fitted_from_net(self, net):
        return {}

    def _check_params(self):
        """Check parameter combinations before anything is fitted (hook)."""

    def _learning_rate(self):
        """The learning rate ``fit`` trains with (hook for ``lr="auto"``)."""
        return self.lr

    def _lr_schedule(self, n_samples):
        """``"constant"`` or ``"cosine"`` (over ``max_epochs``; hook).

        ``n_samples`` is the training set's size, None when the net is
        rebuilt for encoding.
        """
        return "constant"

    # ------------------------------------------------------------ validation
    def _validate_transform_input(self, X):
        X = validate_data(
            self, X, reset=False, dtype=np.float32, allow_nd=self._allow_nd()
        )
        if tuple(X.shape[1:]) != tuple(self.input_shape_):
            raise ValueError(
                f"X has samples of shape {tuple(X.shape[1:])}, but "
                f"{type(self).__name__} was fitted on samples of shape "
                f"{tuple(self.input_shape_)}."
            )
        return X

    def _allow_nd(self):
        return not isinstance(self.backbone, str) or self.backbone == "cnn"

    # ------------------------------------------------------------------- net
    def _make_net(self, input_shape, device="cpu", training=None, **fitted):
        """An initialised, untrained skorch net for this estimator.

        Built from the parameters, the fitted metadata named in
        ``_net_meta`` (passed as keywords) and, during ``fit`` only, the
        training-only arguments ``training`` (``n_samples``, ``seed`` and
        what ``_fit_targets`` returned). Initialising the module draws from
        torch's global generator: ``fit`` seeds it, other callers should use
        :meth:`_rebuild_net`.

        Parameters
        ----------
        input_shape : tuple of int
            Shape of one sample (``input_shape_`` once fitted).
        device : str, default="cpu"
            torch device of the net.
        training : dict or None, default=None
            Training-only arguments; None builds a net for encoding.
        **fitted
            The fitted attributes named in ``_net_meta``.

        Returns
        -------
        net : HasherNet
            ``initialize()`` has been called; load a ``state_dict`` into
            ``net.module_`` to restore trained weights.
        """
        import torch
        from skorch.callbacks import EarlyStopping, ProgressBar
        from skorch.dataset import ValidSplit

        from ._skorch_net import CosineLR, CriterionEpoch, HasherNet

        training = {} if training is None else training
        n = training.get("n_samples")
        batch_size = self.batch_size if n is None else min(self.batch_size, n)
        callbacks = [("criterion_epoch", CriterionEpoch())]
        if self._lr_schedule(n) == "cosine":
            callbacks.append(("lr_schedule", CosineLR(self.max_epochs)))
        train_split = None
        if training and self.validation_fraction is not None and n >= 4:
            train_split = ValidSplit(
                self.validation_fraction,
                stratified=False,
                random_state=training["seed"],
            )
        if self.early_stopping:
            monitor = "valid_loss" if train_split is not None else "train_loss"
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor=monitor,
                        patience=_EARLY_STOPPING_PATIENCE,
                        load_best=True,
                        sink=_silent,
                    ),
                )
            )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks += list(self.callbacks or [])
        optimizer = {
            "adam": torch.optim.Adam,
            "adamw": torch.optim.AdamW,
            "sgd": torch.optim.SGD,
        }[self.optimizer]
        module, module_kwargs = self._module(input_shape, training, **fitted)
        criterion, criterion_kwargs = self._criterion(training, **fitted)
        iterator = {
            # A tiny last batch makes pairwise losses noisy: drop it when
            # there is more than one batch.
            "iterator_train__shuffle": True,
            "iterator_train__drop_last": n is not None and n > batch_size,
        }
        if training.get("streamed"):
            from torch.utils.data import DataLoader

            # A BlockStream's dataset yields whole, shuffled batches
            # (skorch's route for an IterableDataset of batches).
            iterator = {
                "iterator_train": DataLoader,
                "iterator_train__batch_size": None,
                "iterator_train__shuffle": False,
                "iterator_train__drop_last": False,
            }
        net = HasherNet(
            module=module,
            criterion=criterion,
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            lr=self._learning_rate(),
            max_epochs=self.max_epochs,
            batch_size=batch_size,
            **iterator,
            train_split=train_split,
            callbacks=callbacks,
            device=device,
            verbose=self.verbose,
            **{f"module__{k}": v for k, v in module_kwargs.items()},
            **{f"criterion__{k}": v for k, v in criterion_kwargs.items()},
        )
        return net.initialize()

    def _net_fitted_meta(self):
        """The fitted attributes :meth:`_make_net` needs, by name."""
        return {name: getattr(self, name) for name in self._net_meta}

    def _rebuild_net(self, device=None):
        """An untrained net shaped like ``net_``, from parameters and metadata.

        Parameters
        ----------
        device : str or None, default=None
            None means ``device_`` when CUDA is there, else ``"cpu"``.

        Returns
        -------
        net : HasherNet
            Initialised; the caller's torch random state is left alone.
        """
        import torch

        if device is None:
            device = self.device_
            if str(device).startswith("cuda") and not torch.cuda.is_available():
                device = "cpu"
        with torch.random.fork_rng(devices=[]):
            return self._make_net(
                self.input_shape_, resolve_device(device), **self._net_fitted_meta()
            )

    # ------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W), \
or BlockStream
            Training data; image arrays (channels first) need
            ``backbone="cnn"`` or a module backbone. A
            :class:`~sklhash.dask.BlockStream` over a dask array or an
            ``np.memmap`` trains from its mini-batches, block by block, without
            holding the array in memory (see the Notes). A dask array or
            memmap passed directly is read whole into memory like any array.
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Class labels or a multi-label indicator matrix for supervised
            hashers; ignored by unsupervised ones. With a stream, labels come
            with the stream (``BlockStream(X, y)``) or are given here, not
            both.

        Returns
        -------
        self : object
            Fitted hasher.

        Notes
        -----
        Training from a stream: the stream's ``batch_size`` must equal the
        hasher's; its ``block_size``, ``blocks_per_buffer``, ``shuffle`` and
        ``drop_last`` are used as they are, and its shuffles restart at every
        fit from its ``random_state`` (from the hasher's when the stream's is
        None), so the same stream and ``random_state`` give the same codes.
        The labels are read into memory (one small per-row array); the rows
        of ``X`` never are. Passes over the data: one per epoch, one before
        training for NSHasher and CIBHasher (the per-feature scale of their
        views' noise), and one for a second stage
        (``quantization="householder"``, NSHasher's ITQ on latents), which is
        fitted on all rows up to 100,000, else on a uniform seeded sample of
        100,000 rows. A block holding NaN or infinity raises a
        ``ValueError`` naming it when it is read, and nothing is fitted.
        ``validation_fraction`` cannot be used with a stream.
        """
        import torch

        self._check_params()
        stream = _as_stream(X)
        if stream is None:
            X = validate_data(self, X, dtype=np.float32, allow_nd=self._allow_nd())
        else:
            X, y = self._check_stream(stream, y)
        if y is None and not self._targets_optional():
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target "
                "y is None: fit(X, y) needs class labels or a multi-label "
                "indicator matrix"
                + (", or a `similarity` object" if hasattr(self, "similarity") else "")
                + "."
            )
        device = resolve_device(self.device)
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        fork_devices = [torch.device(device)] if device.startswith("cuda") else []
        with _limit_threads(self.n_jobs), torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            fitted = self._fit_network(X, y, device, seed)
        if stream is not None:
            # What validate_data records for an array.
            fitted["n_features_in_"] = X.shape[1]
            if "feature_names_in_" in vars(self):
                del self.feature_names_in_
        # Published at once, only now that training and the second stage
        # succeeded.
        for name, value in fitted.items():
            setattr(self, name, value)
        return self

    def _check_stream(self, stream, y):
        """Check a BlockStream given as ``X``; return ``(X stand-in, y)``.

        Only what the stream knows without reading ``X`` is checked here;
        its values are checked block by block as they are read.
        """
        name = type(self).__name__
        if y is not None and stream.y is not None:
            raise ValueError(
                f"{name}.fit got y both in the BlockStream and as its y "
                "argument; give the labels once."
            )
        if self.validation_fraction is not None:
            raise ValueError(
                f"{name} cannot hold out validation_fraction="
                f"{self.validation_fraction!r} of a BlockStream; set "
                "validation_fraction=None (early_stopping then monitors the "
                "training loss)."
            )
        if stream.batch_size != self.batch_size:
            raise ValueError(
                f"the BlockStream's batch_size={stream.batch_size} differs from "
                f"{name}'s batch_size={self.batch_size}; give both the same value."
            )
        if stream.dtype != np.float32:
            raise ValueError(
                f"{name} trains on float32 batches; the BlockStream yields "
                f"dtype={stream.dtype}. Build it with dtype=np.float32 (the default)."
            )
        shape = tuple(stream.X.shape)
        if np.dtype(stream.X.dtype).kind not in "iuf":
            raise ValueError(
                f"the BlockStream's X must hold real numbers, got dtype "
                f"{stream.X.dtype}."
            )
        if len(shape) != 2 and not self._allow_nd():
            raise ValueError(
                f"the BlockStream's X has shape {shape}; {name} with "
                f"backbone={self.backbone!r} needs a 2-d array (use backbone='cnn' "
                "or a module backbone for image arrays)."
            )
        if shape[0] < 1 or int(np.prod(shape[1:])) < 1:
            raise ValueError(
                f"the BlockStream's X has shape {shape}; {name} needs at least "
                "one sample and one feature."
            )
        if stream.y is not None:
            y = stream.y.compute() if hasattr(stream.y, "compute") else stream.y
            y = np.asarray(y)
        return _StreamedX(stream, name), y

    def _fit_network(self, X, y, device, seed):
        """Train; return every learned attribute, without setting any."""
        n = X.shape[0]
        arrays, fitted, training = self._fit_targets(X, y)
        streamed = isinstance(X, _StreamedX)
        if streamed:
            stream = X.stream
            # The labels reach the loss through ``arrays`` (already encoded).
            stream = stream._replace(
                y=None,
                random_state=seed if stream.random_state is None else stream._seed,
            )
            data = stream.as_torch_dataset(arrays)
        else:
            data = {"X": X, "idx": np.arange(n, dtype=np.int64)}
            for key, value in arrays.items():
                if len(value) != n:
                    raise RuntimeError(f"target {key!r} has {len(value)} rows, not {n}")
                data[key] = value
        net = self._make_net(
            X.shape[1:],
            device,
            training={"n_samples": n, "seed": seed, "streamed": streamed, **training},
            **{name: fitted[name] for name in self._net_meta},
        )
        net.partial_fit(data, None)
        self._check_training_outcome(net)
        fitted.update(self._fitted_from_net(net))
        fitted.update(
            net_=net,
            history_=net.history,
            device_=device,
            input_shape_=tuple(X.shape[1:]),
            n_bits_=self.bits,
        )
        if streamed:
            X = X.stream._row_sample(_STREAM_SECOND_STAGE_ROWS, seed)
        fitted["quantizer_"] = self._fit_second_stage(X, seed, fitted)
        self._warn_if_collapsed(X, fitted)
        return fitted

    def _warn_if_collapsed(self, X, fitted):
        """Warn when the trained model gives every training sample one code.

        A network can die in training (every unit before the hash layer
        inactive, say) with finite weights and a finite loss: its codes are
        then all equal and retrieval scores at chance, with no error
        anywhere. Seen with DPSHHasher's CNN at 16 bits, Fashion-MNIST 10k,
        in 2 of 3 seeds (``benchmarks/records/gpu_2026-12-04``). The rows
        checked are evenly spaced, so a training set sorted by class is
        sampled across its classes; identical input rows may share a code.
        Not checked for a streamed fit, whose rows are read block by block.
        """
        if not isinstance(X, np.ndarray):
            return
        n = X.shape[0]
        picked = np.unique(
            np.linspace(0, n - 1, min(n, _COLLAPSE_CHECK_ROWS)).astype(np.int64)
        )
        rows = X[picked]
        if len(rows) < 2 or np.all(rows == rows[0]):
            return
        bits = self._decision_values(rows, fitted) > 0
        if np.all(bits == bits[0]):
            warnings.warn(
                f"{type(self).__name__}: after training, all {len(rows)} "
                "training samples checked (evenly spaced) get the same code; "
                "the codes carry no information and retrieval will score at "
                "chance. Lower lr, check the scaling of the inputs or train "
                "longer.",
                UserWarning,
                stacklevel=2,
            )

    def _check_training_outcome(self, net):
        from ._skorch_net import all_finite

        name = type(self).__name__
        done = net.interrupted_epoch_
        if done is not None:
            if self.on_interrupt == "raise":
                raise KeyboardInterrupt(
                    f"{name}.fit interrupted after {done} of {self.max_epochs} "
                    "epochs; nothing was kept (on_interrupt='keep' keeps the "
                    "partly trained model)."
                )
            warnings.warn(
                f"{name}.fit was interrupted after {done} of {self.max_epochs} "
                "epochs; keeping the partly trained model (on_interrupt='keep').",
                UserWarning,
                stacklevel=4,
            )
        if not all_finite(net.module_):
            raise ValueError(
                f"{name}: the network weights are not finite after epoch "
                f"{len(net.history)}; no model was kept. Lower lr or scale the "
                "input features."
            )

    def _fit_second_stage(self, X, seed, fitted):
        """Fit what maps the trained network's outputs to codes, or None."""
        if self.quantization != "householder":
            return None
        from .householder import HouseholderQuantizer

        # Rotate the embedding the loss shaped (after the code
        # nonlinearity), not the raw pre-activations.
        Z = self._embedding(X, fitted)
        return HouseholderQuantizer(
            bits=self.bits, random_state=seed, device=fitted["device_"]
        ).fit(Z)

    # ------------------------------------------------------------- transform
    def _network_outputs(self, net, X, fn):
        """``fn(batch output)`` for every chunk of ``X``, as one float32 array.

        Each chunk goes through ``net.evaluation_step`` (eval mode, no
        gradient, the module's own output), applying ``fn`` on the training
        device. This is ``net.forward_iter`` without its DataLoader:
        skorch's Dataset fetches and collates one row at a time, which made
        encoding 60k digit rows 4 times (DPSHHasher) and 17 times
        (NSHasher) slower than slicing chunks of ``max(batch_size, 1024)``
        rows (1.82 s vs 0.43 s, 2.38 s vs 0.14 s, one thread).
        """
        step = max(int(net.batch_size), 1024)
        outs = [
            fn(net.evaluation_step((X[start : start + step], None)))
            .float()
            .cpu()
            .numpy()
            for start in range(0, X.shape[0], step)
        ]
        return np.concatenate(outs)

    def _embedding(self, X, fitted=None):
        """What the second stage (if any) turns into codes.

        The code head's outputs after its nonlinearity; a subclass whose
        second stage reads another output of the network overrides this.
        ``fitted`` holds the learned attributes (``self.__dict__`` once
        fitted, the pending ones during ``fit``).
        """
        fitted = self.__dict__ if fitted is None else fitted
        return self._network_outputs(
            fitted["net_"], X, lambda out: self._codes_from_output(out, fitted)
        )

    def _decision_values(self, X, fitted=None):
        """Decision values of ``X``: the embedding, through the second stage.

        ``fitted`` as in :meth:`_embedding` (the pending attributes during
        ``fit``).
        """
        fitted = self.__dict__ if fitted is None else fitted
        Z = self._embedding(X, fitted)
        if fitted["quantizer_"] is None:
            return Z
        return fitted["quantizer_"].decision_function(Z)

    def _decision_function(self, X):
        with _limit_threads(self.n_jobs):
            return self._decision_values(X)

    def embed(self, X):
        """Continuous outputs of the network that the codes round.

        The code head after its nonlinearity: the same values as
        :meth:`decision_function` unless a second stage (Householder, or
        :class:`~sklhash.NSHasher`'s ITQ on its latents, which are then what
        this returns) maps them to codes; useful to measure the rounding loss.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_bits_), dtype float32
            Continuous outputs (NSHasher with latent codes: of width
            ``latent_dim``).
        """
        check_is_fitted(self)
        X = self._validate_transform_input(X)
        with _limit_threads(self.n_jobs):
            return self._embedding(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.target_tags.required = self._uses_targets
        return tags
