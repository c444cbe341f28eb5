"""NSHasher: Naturally-Sorted Hashing (Shen et al., 2022), unsupervised.

Codes of two random views of each batch item are compared by Hamming
similarity, sorted with a differentiable sort (SoftSort), and the latent
vectors are gathered in that order; SortedNCE then takes the top ``m`` ranks
as positives and the rest as negatives, so the code head learns from the
same sorted list that retrieval uses (DESIGN.md section 3.2). sklhash adds
what the measurements of docs/nsh.md showed the method needs: an auxiliary
SimCLR term on the latents and a warm-up during which only that term trains,
so the latents are meaningful before the codes are sorted by them, and
(by default) codes taken from an ITQ rotation of the trained latents, which
SortedNCE shapes directly, rather than from the code head, which lags them.
"""

from numbers import Integral, Real

from sklhash.utils._sklearn_compat import Interval, StrOptions

from ._unsupervised_common import _TwoViewDeepHasher

__all__ = ["NSHasher"]


class NSHasher(_TwoViewDeepHasher):
    """Naturally-Sorted Hashing: SoftSort + SortedNCE, no labels needed.

    Each batch is seen through two random views. A code head gives binary
    codes ``b`` (``sign(tanh(.))`` with a straight-through gradient) and a
    latent head L2-normalised vectors ``z``. For every anchor the batch is
    ranked by the Hamming similarity of the codes, the latents are gathered in
    that soft order (:func:`sklhash.nn.softsort.soft_sort`) and
    :func:`sklhash.nn.losses.sorted_nce_loss` contrasts the top
    ``n_positives`` ranks against the rest. An auxiliary NT-Xent term on the
    latents (:func:`sklhash.nn.losses.nt_xent_loss`), trained alone for the
    first ``warmup_epochs``, makes the latents worth sorting by. Once trained,
    the codes are by default ITQ codes of the latents (``code_source``).

    ``fit(X)`` ignores ``y``. SortedNCE is computed exactly, grouped by the
    at most ``bits + 1`` distinct code similarities of a batch
    (:mod:`sklhash.nn._sortednce`), so memory per batch grows as
    ``n**2 * d + L * n * d`` (``n = batch_size``, ``d = latent_dim``,
    ``L <= bits + 1``): about 60 MiB at batch 256, 32 bits and ``d = 128``,
    against about 520 MiB for the formulation with ``(n, n, n)`` soft
    permutations.

    Parameters
    ----------
    bits : int, default=64
        Code length.
    latent_dim : int, default=128
        Width of the latent head.
    n_positives : int, default=8
        Top ranks taken as positives by SortedNCE (``m``); clipped to the
        batch size minus one.
    temperature : float, default=0.3
        Temperature of SortedNCE's logits.
    sort_temperature : float or None, default=None
        SoftSort temperature; None means ``1 / bits``, the step between two
        Hamming similarities.
    contrastive_weight : float, default=1.0
        Weight of the auxiliary NT-Xent term on the latents (0 disables it
        and the warm-up).
    contrastive_temperature : float, default=0.2
        Temperature of the auxiliary term.
    code_contrastive_weight : float, default=0.0
        Weight of an optional term on the code head once SortedNCE runs:
        CIBHash's loss (:func:`sklhash.nn.losses.cibhash_loss`, temperature
        0.5, KL weight 0.001), which contrasts the two views' stochastic
        binary codes directly. SortedNCE alone shapes only the top
        ``n_positives`` ranks, and this term also orders the rest. 0 (plain
        NSH) stays the default because the gains are not robust
        (docs/nsh.md). On digits, 3 seeds, 0.3 gave +.013 / +.019 / +.027
        mAP@100 at 16 / 32 / 64 bits in 10 epochs, but −.002 / +.011 /
        −.016 mAP@1000 with the default 20 epochs. On Fashion-MNIST the
        code head's codes gained +.02 to +.05 (three runs), but the default
        latent codes (``code_source``) gain as much without it.
    warmup_epochs : int, default=2
        Epochs trained with the auxiliary term only, before SortedNCE starts
        (at the latest in the last epoch). The reported loss includes
        SortedNCE throughout (without gradient during the warm-up), so
        ``history_`` and ``early_stopping`` compare like with like.
    code_source : {"auto", "latent", "head"}, default="auto"
        Where the codes come from. ``"head"``: the signs of the code head
        (the paper). ``"latent"``: once the network is trained, an
        :class:`~sklhash.ITQHasher` (PCA to ``bits`` dimensions and a learned
        rotation) is fitted on the latent vectors of the training data, and
        its bits are the codes; the code head then only sorts the batch
        during training. SortedNCE trains the latents directly and the code
        head follows them with a lag, so the latents' ITQ codes are better:
        +.04 mAP@1000 on digits at 16 / 32 / 64 bits (3 seeds) and +.01 to
        +.03 on Fashion-MNIST (docs/nsh.md). ``"latent"`` needs
        ``bits <= latent_dim`` and ``quantization=None``; ``"auto"`` is
        ``"latent"`` when those hold and ``"head"`` otherwise. With latent
        codes, ``embed`` returns the latents (of width ``latent_dim``).
%(augmentation)s%(deep_params)s%(quantization)s
    Attributes
    ----------
    code_source_ : str
        ``"latent"`` or ``"head"``: where the codes come from.
%(deep_attrs)s
    See Also
    --------
    CIBHasher : Contrastive hashing with an information bottleneck.
    ITQHasher : The linear unsupervised baseline.

    References
    ----------
    .. [1] Y. Shen, Y. Feng, B. Fang, M. Zhou, S. Kwong and B. Qiang,
       "Learning to Hash Naturally Sorts", IJCAI 2022.
    .. [2] S. Prillo and J. M. Eisenschlos, "SoftSort: A Continuous
       Relaxation for the argsort Operator", ICML 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklhash import NSHasher
    >>> X, _ = load_digits(return_X_y=True)
    >>> hasher = NSHasher(bits=16, latent_dim=32, batch_size=64, max_epochs=1,
    ...                   random_state=0).fit(X / 16)
    >>> hasher.transform(X[:3] / 16).shape
    (3, 2)
    """

    _parameter_constraints = {
        **_TwoViewDeepHasher._parameter_constraints,
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "n_positives": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "sort_temperature": [Interval(Real, 0, None, closed="neither"), None],
        "contrastive_weight": [Interval(Real, 0, None, closed="left")],
        "contrastive_temperature": [Interval(Real, 0, None, closed="neither")],
        "code_contrastive_weight": [Interval(Real, 0, None, closed="left")],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "code_source": [StrOptions({"auto", "head", "latent"})],
        "augmentation": [StrOptions({"auto", "image", "features"}), callable],
    }

    def __init__(
        self,
        bits=64,
        *,
        latent_dim=128,
        n_positives=8,
        temperature=0.3,
        sort_temperature=None,
        contrastive_weight=1.0,
        contrastive_temperature=0.2,
        code_contrastive_weight=0.0,
        warmup_epochs=2,
        code_source="auto",
        augmentation="auto",
        backbone="mlp",
        hidden_layer_sizes=(256,),
        max_epochs=20,
        batch_size=128,
        lr=1e-3,
        optimizer="adam",
        weight_decay=1e-5,
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
        super().__init__(
            bits,
            backbone=backbone,
            hidden_layer_sizes=hidden_layer_sizes,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            device=device,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
            validation_fraction=validation_fraction,
            early_stopping=early_stopping,
            on_interrupt=on_interrupt,
            quantization=quantization,
        )
        self.latent_dim = latent_dim
        self.n_positives = n_positives
        self.temperature = temperature
        self.sort_temperature = sort_temperature
        self.contrastive_weight = contrastive_weight
        self.contrastive_temperature = contrastive_temperature
        self.code_contrastive_weight = code_contrastive_weight
        self.warmup_epochs = warmup_epochs
        self.code_source = code_source
        self.augmentation = augmentation

    def _latent_dim(self):
        return self.latent_dim

    def _check_params(self):
        if self.code_source != "latent":
            return
        if self.quantization is not None:
            raise ValueError(
                f"quantization={self.quantization!r} rotates the code head's "
                "outputs, but code_source='latent' takes the codes from an ITQ "
                "rotation of the latents: use quantization=None with it."
            )
        if self.bits > self.latent_dim:
            raise ValueError(
                f"code_source='latent' projects the latents onto `bits` "
                f"principal directions, so bits={self.bits} must not exceed "
                f"latent_dim={self.latent_dim}; raise latent_dim or use "
                "code_source='head'."
            )

    def _resolve_code_source(self):
        if self.code_source != "auto":
            return self.code_source
        if self.quantization is None and self.bits <= self.latent_dim:
            return "latent"
        return "head"

    def fit(self, X, y=None):
        """Train the network, then fit the ITQ stage when codes come from latents.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W), \
or BlockStream
            Training data; image arrays (channels first) need
            ``backbone="cnn"`` or a module backbone. A
            :class:`~sklhash.dask.BlockStream` trains from its mini-batches
            without holding ``X`` in memory (see "Training data larger than
            memory" in the scaling guide).
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted hasher.
        """
        return super().fit(X, y)

    def _fit_targets(self, X, y):
        if self._resolve_code_source() == "latent" and X.shape[0] < self.bits:
            # Checked before training: ITQ on the latents finds at most
            # n_samples principal directions.
            raise ValueError(
                f"NSHasher takes its codes from ITQ on the latents "
                f"(code_source={self.code_source!r}), which needs at least "
                f"bits={self.bits} training samples; got n_samples={X.shape[0]}. Use "
                "more samples, fewer bits or code_source='head'."
            )
        return super()._fit_targets(X, y)

    def _criterion(self, training, **fitted):
        from ..nn.nsh import NSHLoss

        return NSHLoss, {
            "n_positives": self.n_positives,
            "temperature": self.temperature,
            "sort_temperature": self.sort_temperature,
            "contrastive_weight": self.contrastive_weight,
            "contrastive_temperature": self.contrastive_temperature,
            "code_contrastive_weight": self.code_contrastive_weight,
            "warmup_epochs": self.warmup_epochs,
            "n_epochs": self.max_epochs,
            # Early stopping on the training loss compares warm-up epochs
            # with later ones: only then is SortedNCE's warm-up value needed.
            "report_warmup_loss": bool(self.early_stopping),
        }

    def _fitted_from_net(self, net):
        return {"code_source_": self._resolve_code_source()}

    def _fit_second_stage(self, X, seed, fitted):
        if fitted["code_source_"] != "latent":
            return super()._fit_second_stage(X, seed, fitted)
        from .classic import ITQHasher

        latents = self._network_outputs(fitted["net_"], X, lambda out: out[1])
        return ITQHasher(bits=self.bits, random_state=seed).fit(latents)

    def _embedding(self, X, fitted=None):
        fitted = self.__dict__ if fitted is None else fitted
        if fitted["code_source_"] != "latent":
            return super()._embedding(X, fitted)
        return self._network_outputs(fitted["net_"], X, lambda out: out[1])
