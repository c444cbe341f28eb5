"""The deep-hasher base: a scikit-learn estimator that trains a torch network.

Every torch hasher (SemanticKLHasher, NSHasher, the deep baselines) derives
from :class:`BaseDeepHasher`. Following skorch's advice to compose rather
than inherit, the hasher is a plain scikit-learn estimator whose ``fit``
validates the data, builds a private skorch ``NeuralNet`` (``net_``) and trains
it; ``__init__`` only stores parameters, so ``clone``, ``GridSearchCV`` and
scikit-learn's common checks work.

Writing a deep hasher
---------------------
A subclass lists every parameter of the base in its own ``__init__`` (as
scikit-learn requires explicit signatures), extends ``_parameter_constraints``
and implements:

``_loss(self, out, batch, training)``
    Returns a scalar tensor. ``out`` is what the module returns for the batch
    (for :class:`~sklhash.nn.backbones.HashModule`, the pre-activation values
    ``h`` of shape (n, bits)); ``batch`` is a dict of tensors on the training
    device: ``"X"`` (inputs), ``"idx"`` (row numbers in the training set) and
    every per-sample array returned by ``_fit_targets``. A batch can hold a
    single sample, and pairwise losses must stay finite then. Epoch-dependent
    schedules read ``self._epoch`` (0-based) and ``self._n_epochs``.

and may override:

``_fit_targets(self, X, y)``
    Validates ``y`` and returns a dict of per-sample numpy arrays (first
    dimension ``n_samples``) added to every batch; may set learned attributes
    such as ``classes_``. The default ignores ``y`` (unsupervised).
``_build_module(self, input_shape)``
    Returns the torch module. The default is backbone + linear hash layer.
``_codes_from_output(self, out)``
    Extracts the (n, bits) decision values from the module output; the
    default returns ``tanh(out)``.
``_uses_targets`` (class attribute)
    ``True`` for supervised hashers: ``fit`` then requires ``y`` unless
    ``_targets_optional(self)`` says otherwise.

Determinism: ``fit`` seeds torch from ``random_state`` inside
``torch.random.fork_rng``, so the caller's global torch state is untouched and
the same ``random_state`` gives the same codes on CPU. Pickling goes through
skorch, which maps a CUDA-trained network to the CPU when no GPU is present.
"""

from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import BaseHasher
from ..utils._device import resolve_device

__all__ = ["BaseDeepHasher"]

_EARLY_STOPPING_PATIENCE = 5


class BaseDeepHasher(BaseHasher):
    """Base class of the hashers that train a torch network through skorch.

    Do not use it directly; see the module docstring for the hooks.

    Parameters
    ----------
    bits : int
        Code length.
    backbone : {"identity", "mlp", "cnn"} or torch.nn.Module
        Feature extractor before the hash layer (see
        :func:`sklhash.nn.backbones.build_backbone`).
    hidden_layer_sizes : tuple of int
        Fully connected layers of the ``"mlp"`` and ``"cnn"`` backbones.
    max_epochs : int
        Number of passes over the training data.
    batch_size : int
        Mini-batch size (clipped to the number of samples).
    lr : float
        Learning rate.
    optimizer : {"adam", "adamw", "sgd"}
        Optimiser.
    weight_decay : float
        L2 penalty passed to the optimiser.
    device : {"cpu", "cuda", "auto"} or str
        Where to train and encode; ``"auto"`` picks CUDA when available.
    random_state : int, RandomState instance or None
        Seeds weight initialisation, batch order and any sampling inside the
        loss.
    verbose : int
        0 is silent; 1 prints a line per epoch and shows a progress bar.
    callbacks : list of skorch callbacks or None
        Extra callbacks for the private ``NeuralNet``.
    validation_fraction : float or None
        Fraction of the training data held out to report ``valid_loss``
        (and to stop early on). ``None`` trains on everything.
    early_stopping : bool
        Stop when the monitored loss (validation loss if there is a
        validation split, else training loss) has not improved for 5
        epochs, and keep the best weights.
    quantization : str or None
        ``"householder"`` trains without quantisation term and then fits a
        :class:`~sklhash.HouseholderQuantizer` on the training outputs
        (two-stage); other values are interpreted by the subclass's loss.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network wrapper.
    history_ : skorch.History
        Per-epoch losses.
    device_ : str
        Device resolved from ``device``.
    quantizer_ : HouseholderQuantizer or None
        Second stage when ``quantization="householder"``.
    n_bits_ : int
        Code length.
    n_features_in_ : int
        Number of features seen during ``fit``.
    """

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
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "early_stopping": ["boolean"],
        "quantization": [StrOptions({"householder"}), None],
    }

    _uses_targets = False

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
        random_state=None,
        verbose=0,
        callbacks=None,
        validation_fraction=None,
        early_stopping=False,
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
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.quantization = quantization

    # ----------------------------------------------------------------- hooks
    def _fit_targets(self, X, y):
        return {}

    def _targets_optional(self):
        return not self._uses_targets

    def _build_module(self, input_shape):
        from ..nn.backbones import HashModule, build_backbone

        backbone, n_out = build_backbone(
            self.backbone, input_shape, tuple(self.hidden_layer_sizes)
        )
        return HashModule(backbone, n_out, self.bits)

    def _codes_from_output(self, out):
        import torch

        return torch.tanh(out)

    @abstractmethod
    def _loss(self, out, batch, training):
        """Scalar training loss of one batch (see the module docstring)."""

    # ------------------------------------------------------------ validation
    def _validate_transform_input(self, X):
        return validate_data(
            self, X, reset=False, dtype=np.float32, allow_nd=self._allow_nd()
        )

    def _allow_nd(self):
        return not isinstance(self.backbone, str) or self.backbone == "cnn"

    # ------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training data; image arrays need ``backbone="cnn"``.
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Class labels or a multi-label indicator matrix for supervised
            hashers; ignored by unsupervised ones.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        import torch

        self._check_params()
        X = validate_data(self, X, dtype=np.float32, allow_nd=self._allow_nd())
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
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            targets = self._fit_targets(X, y)
            net = self._train(X, targets, device, seed)
            quantizer = self._fit_second_stage(net, X, seed)
        self.net_ = net
        self.history_ = net.history
        self.device_ = device
        self.quantizer_ = quantizer
        self.n_bits_ = self.bits
        return self

    def _train(self, X, targets, device, seed):
        import torch
        from skorch.callbacks import EarlyStopping, ProgressBar
        from skorch.dataset import ValidSplit

        from ._skorch_net import EpochCounter, HasherNet

        n = X.shape[0]
        data = {"X": X, "idx": np.arange(n, dtype=np.int64)}
        for key, value in targets.items():
            if len(value) != n:
                raise RuntimeError(f"target {key!r} has {len(value)} rows, not {n}")
            data[key] = value
        batch_size = min(self.batch_size, n)
        callbacks = [("epoch_counter", EpochCounter(self))]
        train_split = None
        if self.validation_fraction is not None and n >= 4:
            train_split = ValidSplit(
                self.validation_fraction, stratified=False, random_state=seed
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
                        sink=lambda *a: None,
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
        self._epoch = 0
        self._n_epochs = self.max_epochs
        net = HasherNet(
            module=self._build_module(X.shape[1:]),
            criterion=torch.nn.Identity,
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=batch_size,
            # A tiny last batch makes pairwise losses noisy: drop it when
            # there is more than one batch.
            iterator_train__shuffle=True,
            iterator_train__drop_last=n > batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=device,
            verbose=self.verbose,
            hasher=self,
        )
        net.fit(data, None)
        return net

    # ------------------------------------------------------------- transform
    def _forward(self, net, X, codes=True, head=None):
        """Run the module on ``X`` in eval mode, in chunks, without gradients.

        ``codes=True`` applies ``_codes_from_output``; ``False`` returns the
        raw (pre-nonlinearity) output of the code head. ``head``, a function
        of the module and an input batch, replaces the module's forward.
        """
        import torch

        module = net.module_
        module.eval()
        step = max(self.batch_size, 1024)
        outs = []
        with torch.no_grad():
            for start in range(0, X.shape[0], step):
                batch = torch.as_tensor(X[start : start + step], device=net.device)
                out = module(batch) if head is None else head(module, batch)
                if codes:
                    out = self._codes_from_output(out)
                elif isinstance(out, (tuple, list)):
                    out = out[0]
                outs.append(out.float().cpu().numpy())
        if not outs:
            return np.zeros((0, self.bits), dtype=np.float32)
        return np.concatenate(outs)

    def _check_params(self):
        """Check parameter combinations before anything is fitted (hook)."""

    def _fit_second_stage(self, net, X, seed):
        """Fit what maps the trained network's outputs to codes, or None."""
        if self.quantization != "householder":
            return None
        from .householder import HouseholderQuantizer

        # Rotate the embedding the loss shaped (after the code
        # nonlinearity), not the raw pre-activations.
        Z = self._forward(net, X)
        return HouseholderQuantizer(bits=self.bits, random_state=seed).fit(Z)

    def _embedding(self, X):
        """What the fitted second stage (if any) turns into codes.

        The code head's outputs after its nonlinearity; a subclass whose
        second stage reads another output of the network overrides this.
        """
        return self._forward(self.net_, X)

    def _decision_function(self, X):
        Z = self._embedding(X)
        return Z if self.quantizer_ is None else self.quantizer_.decision_function(Z)

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
        return self._embedding(self._validate_transform_input(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.target_tags.required = self._uses_targets
        return tags
