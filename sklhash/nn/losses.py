"""Loss functions of the deep hashers, pure torch (no scikit-learn here).

Each loss takes the network's relaxed codes ``u`` (a float tensor of shape
``(n, K)``, usually ``tanh`` outputs in ``(-1, 1)``) plus whatever targets it
needs, and returns a scalar tensor. Every function says where it comes from.
Loss functions of other methods are appended below the semantic ones.
"""

import math

import torch

__all__ = [
    "code_distances",
    "relative_similarity_loss",
    "empirical_kl_divergence",
    "bitwise_kl_divergence",
    "binary_kl_divergence",
    "sample_smoothed_binary",
]


# ---------------------------------------------------------------------------
# SemanticKLHasher (Arponen & Bishop, 2020; sklhash DESIGN.md section 3.1)
# ---------------------------------------------------------------------------


def code_distances(u):
    """Normalised code distances ``D_ij = (K - u_i . u_j) / (2K)``.

    On codes in ``{-1, 1}^K`` this is the normalised Hamming distance; on
    relaxed codes in ``[-1, 1]^K`` it lies in ``[0, 1]`` as well.

    Parameters
    ----------
    u : Tensor of shape (n, K)
        Relaxed codes.

    Returns
    -------
    D : Tensor of shape (n, n)
        Code distances, 0 on the diagonal.
    """
    n_bits = u.shape[1]
    return (n_bits - u @ u.T) / (2.0 * n_bits)


def relative_similarity_loss(u, target_sim, mode="relative", eps=1e-8):
    """Match code distances to semantic target distances over a batch.

    The semantic similarity metric of Arponen & Bishop (2020), as specified in
    sklhash's DESIGN.md section 3.1 (the paper's formulas were not
    available). With ``D_ij`` the normalised code distance (see
    :func:`code_distances`) and ``Delta_ij = 1 - S_ij`` the target distance,
    over all pairs ``i != j`` of the batch:

    * ``"relative"`` (scale-free):
      ``mean((D_ij / mean(D) - Delta_ij / mean(Delta)) ** 2)``. Only relative
      distances matter, so multiplying all targets (or all code distances) by
      a constant leaves the loss unchanged. When every target distance of the
      batch is 0 (one class only) the relative form is undefined; the loss is
      then ``mean(D_ij ** 2)``, which pulls the batch together.
    * ``"absolute"``: ``mean((D_ij - Delta_ij) ** 2)``.

    Parameters
    ----------
    u : Tensor of shape (n, K)
        Relaxed codes.
    target_sim : Tensor of shape (n, n)
        Target similarities ``S_ij`` in ``[0, 1]``; the diagonal is ignored.
    mode : {"relative", "absolute"}, default="relative"
        Loss form, see above.
    eps : float, default=1e-8
        Guard for the divisions by the mean distances.

    Returns
    -------
    loss : Tensor
        Scalar; 0 when fewer than two samples are given (no pair to compare).

    References
    ----------
    J. Arponen and T. Bishop, "Learning to hash with semantic similarity
    metrics and empirical KL divergence", 2020. arXiv:2005.04917.
    """
    if mode not in ("relative", "absolute"):
        raise ValueError(
            f"mode must be 'relative' or 'absolute', got mode={mode!r}."
        )
    n = u.shape[0]
    if target_sim.shape != (n, n):
        raise ValueError(
            f"target_sim must have shape ({n}, {n}) for {n} codes, got "
            f"{tuple(target_sim.shape)}."
        )
    if n < 2:
        return u.sum() * 0.0
    off = ~torch.eye(n, dtype=torch.bool, device=u.device)
    dist = code_distances(u)[off]
    target = (1.0 - target_sim.to(dist.dtype))[off]
    if mode == "absolute":
        return ((dist - target) ** 2).mean()
    target_mean = target.mean()
    if target_mean <= eps:
        return (dist**2).mean()
    return ((dist / (dist.mean() + eps) - target / target_mean) ** 2).mean()


def sample_smoothed_binary(n, n_bits, smoothing=0.1, generator=None, like=None):
    """Draw from the smoothed binary target: uniform ``{-1, 1}^K`` + noise.

    The target distribution of the quantisation KL terms: each coordinate is
    ``+-1`` with probability 1/2, plus independent ``N(0, smoothing ** 2)``
    noise. The noise makes the distribution continuous, which the k-NN
    estimator needs (on exact corners nearest-neighbour distances are 0).

    Parameters
    ----------
    n : int
        Number of draws.
    n_bits : int
        Dimension ``K``.
    smoothing : float, default=0.1
        Standard deviation of the noise around each corner.
    generator : torch.Generator or None, default=None
        Source of randomness (for reproducible draws).
    like : Tensor or None, default=None
        Draws get this tensor's dtype and device (float32 on CPU if None).

    Returns
    -------
    sample : Tensor of shape (n, n_bits)
        The draws.
    """
    dtype = like.dtype if like is not None else torch.float32
    device = like.device if like is not None else torch.device("cpu")
    signs = torch.randint(0, 2, (n, n_bits), generator=generator, device=device)
    noise = torch.randn(n, n_bits, generator=generator, device=device, dtype=dtype)
    return signs.to(dtype) * 2.0 - 1.0 + smoothing * noise


def empirical_kl_divergence(
    u, target_sample=None, k=1, smoothing=0.1, generator=None, eps=1e-10
):
    """Estimate ``KL(P || Q)`` from two samples by k-nearest neighbours.

    The estimator of Wang, Kulkarni & Verdu (2009), of the
    Kozachenko-Leonenko family, used by Arponen & Bishop (2020) to pull the
    network outputs towards a binary distribution. With ``n`` P-samples
    ``u_i`` in dimension ``d``, ``m`` Q-samples, ``rho_k(i)`` the Euclidean
    distance from ``u_i`` to its k-th nearest *other* P-sample and ``nu_k(i)``
    the distance to its k-th nearest Q-sample::

        KL ~= (d / n) * sum_i log(nu_k(i) / rho_k(i)) + log(m / (n - 1))

    Distances are floored at ``eps`` before the logarithm. It is
    differentiable in ``u``. The estimate is consistent for continuous
    densities only, hence the default target: the smoothed binary
    distribution of :func:`sample_smoothed_binary`.

    This is the *joint* (d = K) literal form of the paper. As a training
    term it harms retrieval: its entropy part, with gradient ``~ 1/rho``,
    pushes the codes of one class apart (sklhash DESIGN.md 3.1 measured
    mAP@1000 .796 -> .382 at weight 1e-3 on Fashion-MNIST). The
    :class:`~sklhash.hashers.SemanticKLHasher` trains with
    :func:`bitwise_kl_divergence` instead; this one stays for evaluation and
    for the ablation (``kl_form="joint"``).

    Parameters
    ----------
    u : Tensor of shape (n, d)
        P-sample, ``n >= 2``.
    target_sample : Tensor of shape (m, d) or None, default=None
        Q-sample; ``m >= k``. None draws ``n`` points from the smoothed
        binary distribution.
    k : int, default=1
        Which neighbour; ``k <= n - 1``.
    smoothing : float, default=0.1
        Noise of the default target sample.
    generator : torch.Generator or None, default=None
        Source of randomness for the default target sample.
    eps : float, default=1e-10
        Floor of the distances.

    Returns
    -------
    kl : Tensor
        Scalar; can be negative (it is an estimate); near 0 when P equals Q
        (about +-0.5 in the tests' setting of 512 16-d points, k=1, see
        ``tests/test_losses_semantic.py``).

    References
    ----------
    Q. Wang, S. R. Kulkarni and S. Verdu, "Divergence estimation for
    multidimensional densities via k-nearest-neighbor distances", IEEE
    Trans. Information Theory 55(5), 2009.
    """
    n, d = u.shape
    if n < 2:
        raise ValueError(
            f"empirical_kl_divergence needs at least 2 samples (a nearest "
            f"other sample), got n={n}."
        )
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be in [1, n - 1] = [1, {n - 1}], got k={k}.")
    if target_sample is None:
        target_sample = sample_smoothed_binary(
            n, d, smoothing=smoothing, generator=generator, like=u
        )
    m = target_sample.shape[0]
    if target_sample.ndim != 2 or target_sample.shape[1] != d or m < k:
        raise ValueError(
            f"target_sample must have shape (m >= {k}, {d}), got "
            f"{tuple(target_sample.shape)}."
        )
    target_sample = target_sample.to(u)
    self_dist = torch.cdist(u, u)
    # Exclude each point from its own neighbours without an in-place write.
    self_dist = self_dist + torch.diag(
        torch.full((n,), float("inf"), dtype=u.dtype, device=u.device)
    )
    rho = self_dist.kthvalue(k, dim=1).values
    nu = torch.cdist(u, target_sample).kthvalue(k, dim=1).values
    log_ratio = torch.log(nu.clamp_min(eps)) - torch.log(rho.clamp_min(eps))
    return d * log_ratio.mean() + math.log(m / (n - 1))


def _log_binary_target_density(x, smoothing):
    """Log density of ``0.5 N(-1, s^2) + 0.5 N(1, s^2)`` at ``x``."""
    var = smoothing**2
    a = -((x - 1.0) ** 2) / (2 * var)
    b = -((x + 1.0) ** 2) / (2 * var)
    return (
        torch.logaddexp(a, b)
        - math.log(2.0)
        - 0.5 * math.log(2 * math.pi * var)
    )


def bitwise_kl_divergence(u, bandwidth=0.2, smoothing=0.2, fold=False, eps=1e-12):
    """Mean over bits of a kernel estimate of ``KL(p_k || q)``, one bit at a time.

    The quantisation term sklhash trains :class:`SemanticKLHasher` with: a
    factorised, smoothed version of the empirical KL divergence of Arponen &
    Bishop (2020). For each bit ``k``, ``p_k`` is the distribution of the
    batch's ``k``-th outputs, estimated by a leave-one-out Gaussian kernel
    density with width ``bandwidth``; ``q`` is the smoothed binary target
    ``0.5 N(-1, smoothing^2) + 0.5 N(1, smoothing^2)``, known in closed form::

        KL_k ~= mean_i [log p_k(u_ik) - log q(u_ik)]

    The second part pulls outputs to +-1; the first (minus an entropy)
    spreads them, but through a smooth density whose gradient is bounded by
    ``1 / bandwidth``, so codes of one class are not torn apart the way the
    joint k-NN estimator (:func:`empirical_kl_divergence`) tears them
    (its gradient grows like ``1 / rho`` as they cluster).

    With ``fold=True`` the estimate is taken on ``|u|`` against the folded
    target (``2 q`` on ``[0, inf)``): it then only asks outputs to reach the
    corners and says nothing about how often each bit is 1.

    Parameters
    ----------
    u : Tensor of shape (n, K)
        Relaxed codes, ``n >= 2``.
    bandwidth : float, default=0.2
        Kernel width of the density estimate of the batch.
    smoothing : float, default=0.2
        Width of each mode of the target.
    fold : bool, default=False
        Compare magnitudes ``|u|`` only.
    eps : float, default=1e-12
        Floor of the estimated density before the logarithm.

    Returns
    -------
    kl : Tensor
        Scalar estimate; can be slightly negative.

    References
    ----------
    J. Arponen and T. Bishop, "Learning to hash with semantic similarity
    metrics and empirical KL divergence", 2020. arXiv:2005.04917.
    P. Hall and S. C. Morton, "On the estimation of entropy", Annals of the
    Institute of Statistical Mathematics 45(1), 1993 (leave-one-out kernel
    entropy estimates).
    """
    n = u.shape[0]
    if n < 2:
        raise ValueError(
            f"bitwise_kl_divergence needs at least 2 samples (a leave-one-out "
            f"density), got n={n}."
        )
    x = u.abs() if fold else u
    # (K, n, n) kernel matrix, bit by bit; the diagonal is left out.
    diff = x.T.unsqueeze(2) - x.T.unsqueeze(1)
    kernel = torch.exp(-0.5 * (diff / bandwidth) ** 2)
    off = 1.0 - torch.eye(n, dtype=u.dtype, device=u.device)
    density = (kernel * off).sum(dim=2) / ((n - 1) * bandwidth * math.sqrt(2 * math.pi))
    log_p = torch.log(density.clamp_min(eps)).T
    log_q = _log_binary_target_density(x, smoothing)
    if fold:
        log_q = log_q + math.log(2.0)
    return (log_p - log_q).mean()


def binary_kl_divergence(u, rounding_weight=1.0, eps=1e-6):
    """KL of the batch's soft-bit distribution to uniform bits, plus rounding.

    The quantisation term :class:`~sklhash.hashers.SemanticKLHasher` trains
    with (``kl_form="binary"``). Read each output as a soft bit,
    ``p_ik = (1 + u_ik) / 2`` = probability that bit ``k`` of sample ``i`` is
    1. The batch then defines, for every bit, the distribution of a random
    sample's bit, ``Bernoulli(pbar_k)`` with ``pbar_k = mean_i p_ik``. The
    term, averaged over bits, is::

        KL(Bernoulli(pbar_k) || Bernoulli(1/2)) + rounding_weight * mean_i H(p_ik)

    The first part is the exact KL divergence between the batch's code
    distribution (one bit at a time) and the uniform binary distribution of
    Arponen & Bishop (2020): it keeps every bit balanced. The second, the
    binary entropy of each soft bit (the conditional entropy of the bit given
    the sample), is 0 exactly at the corners and pulls outputs there. With
    ``rounding_weight=1`` the sum is ``log 2 - I(bit; sample)``, one minus
    the mutual information between a sample and its bit, in nats.

    Why this form: DESIGN.md 3.1 measured that the joint k-NN estimator
    (:func:`empirical_kl_divergence`) tears clusters apart through its
    ``1 / rho`` entropy gradient; here no term depends on distances between
    samples. And a pull to the corners *alone* (``"l2"``, the kernel
    estimates of :func:`bitwise_kl_divergence`) lets the relative similarity
    loss, blind to scale, shrink the batch into one corner: bits become
    constant and codes lose what the outputs knew (measured in
    ``docs/semantic_kl.md``). The balance part prevents exactly that. The
    gradient with respect to the pre-activation ``h`` (``u = tanh h``) is
    bounded: ``d H / d h = -2 h sech^2(h)``.

    Parameters
    ----------
    u : Tensor of shape (n, K)
        Relaxed codes in ``[-1, 1]``.
    rounding_weight : float, default=1.0
        Weight of the entropy (rounding) part relative to the balance part.
    eps : float, default=1e-6
        Probabilities are clipped to ``[eps, 1 - eps]`` before logarithms.

    Returns
    -------
    kl : Tensor
        Scalar in ``[0, (1 + rounding_weight) log 2]``; 0 for balanced +-1 codes.

    References
    ----------
    J. Arponen and T. Bishop, "Learning to hash with semantic similarity
    metrics and empirical KL divergence", 2020. arXiv:2005.04917.
    """
    p = ((1.0 + u) / 2.0).clamp(eps, 1.0 - eps)
    entropy = -(p * torch.log(p) + (1.0 - p) * torch.log1p(-p))
    pbar = p.mean(dim=0)
    balance = (
        pbar * torch.log(2.0 * pbar) + (1.0 - pbar) * torch.log(2.0 * (1.0 - pbar))
    )
    return balance.mean() + rounding_weight * entropy.mean()


# ---------------------------------------------------------------------------
# NSHasher (Shen et al., 2022; sklhash DESIGN.md section 3.2)
# ---------------------------------------------------------------------------

__all__ += ["sorted_nce_loss", "sorted_cosines"]  # noqa: F405 (appended by the NSH section)


def sorted_nce_loss(
    b1,
    b2,
    z1,
    z2,
    n_positives=8,
    temperature=0.3,
    sort_temperature=None,
    symmetric=False,
):
    """SortedNCE: contrast latents gathered in the soft order of code similarity.

    Naturally-Sorted Hashing (Shen et al., "Learning to Hash Naturally Sorts",
    IJCAI 2022) as specified in sklhash's DESIGN.md section 3.2. For anchor
    ``i`` the items ``j`` of the batch are ranked by the code similarity
    ``s_ij = b1_i . b2_j / (2K) + 0.5`` (one minus the normalised Hamming
    distance), with :func:`sklhash.nn.softsort.soft_sort` (descending). The
    *view-1* latents are gathered in that soft order,
    ``E_ir = sum_j P_i[r, j] z1_j`` (re-normalised), and compared with the
    anchor's *view-2* latent, ``c_ir = cos(E_ir, z2_i)``: when the codes of the
    two views agree, rank 0 of anchor ``i`` is item ``i`` itself, and ``c_i0``
    compares the two views of one image -- a proper positive pair, never an
    item with itself. The first ``m`` ranks are positives, the others
    negatives, and each positive competes only with the negatives::

        L = mean_i mean_{r < m} -log( e^{c_ir/tau} /
                                      (e^{c_ir/tau} + sum_{r' >= m} e^{c_ir'/tau}) )

    The code head gets its gradient through the soft permutation ``P``: the
    loss falls when items whose latents agree with the anchor's are ranked
    into the top ``m`` by their codes.

    Parameters
    ----------
    b1, b2 : Tensor of shape (n, K)
        Codes of the two views, in {-1, +1} in the forward pass (typically
        :func:`sklhash.nn._ste.sign_ste` of ``tanh`` outputs).
    z1, z2 : Tensor of shape (n, d)
        Latent vectors of the two views (normalised here).
    n_positives : int, default=8
        Number of top ranks ``m`` taken as positives; clipped to ``n - 1`` on
        small batches so at least one negative remains.
    temperature : float, default=0.3
        Temperature ``tau`` of the contrastive logits.
    sort_temperature : float or None, default=None
        Temperature of SoftSort; None means ``1 / K``, the step between two
        adjacent Hamming similarities.
    symmetric : bool, default=False
        Also add the loss with the views' roles swapped and average.

    Returns
    -------
    loss : Tensor, scalar

    Notes
    -----
    Memory per batch is ``O(n^3 + n^2 d)`` floats: the ``(n, n, n)`` soft
    permutations and the ``(n, n, d)`` gathered latents (plus as much again
    for their gradients).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> b = torch.randn(16, 8, generator=g).sign()
    >>> z = torch.randn(16, 4, generator=g)
    >>> loss = sorted_nce_loss(b, b, z, z + 0.01, n_positives=2)
    >>> bool(torch.isfinite(loss))
    True
    """
    if b1.shape != b2.shape or z1.shape != z2.shape or b1.shape[0] != z1.shape[0]:
        raise ValueError(
            "b1, b2 must share one shape and z1, z2 another, with the same "
            f"number of rows; got {tuple(b1.shape)}, {tuple(b2.shape)}, "
            f"{tuple(z1.shape)}, {tuple(z2.shape)}."
        )
    if n_positives < 1:
        raise ValueError(f"n_positives must be >= 1, got n_positives={n_positives!r}.")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got temperature={temperature!r}.")
    n, n_bits = b1.shape
    if n < 2:
        # One item has no negatives: no signal, but keep the graph connected.
        return 0.0 * (b1.sum() + b2.sum() + z1.sum() + z2.sum())
    m = min(int(n_positives), n - 1)

    def one_way(ba, bb, za, zb):
        c = sorted_cosines(ba, bb, za, zb, sort_temperature) / temperature
        neg = torch.logsumexp(c[:, m:], dim=1, keepdim=True)
        # -log(e^p / (e^p + e^neg)) = softplus(neg - p), computed stably.
        return torch.nn.functional.softplus(neg - c[:, :m]).mean()

    loss = one_way(b1, b2, z1, z2)
    if symmetric:
        loss = 0.5 * (loss + one_way(b2, b1, z2, z1))
    return loss


def sorted_cosines(b1, b2, z1, z2, sort_temperature=None):
    """The rank-ordered cosines ``c_ir`` of :func:`sorted_nce_loss`.

    Parameters
    ----------
    b1, b2 : Tensor of shape (n, K)
        Codes of the two views.
    z1, z2 : Tensor of shape (n, d)
        Latents of the two views (normalised here).
    sort_temperature : float or None, default=None
        SoftSort temperature; None means ``1 / K``.

    Returns
    -------
    c : Tensor of shape (n, n)
        ``c[i, r] = cos(sum_j P_i[r, j] z1_j, z2_i)`` where ``P_i`` soft-sorts
        ``s_ij = b1_i . b2_j / (2K) + 0.5`` descending.

    Examples
    --------
    >>> import torch
    >>> b = torch.tensor([[1., 1.], [-1., -1.]])
    >>> z = torch.tensor([[1., 0.], [0., 1.]])
    >>> sorted_cosines(b, b, z, z, sort_temperature=0.01).round().tolist()
    [[1.0, 0.0], [1.0, 0.0]]
    """
    from .softsort import soft_sort

    n_bits = b1.shape[1]
    tau_sort = 1.0 / n_bits if sort_temperature is None else sort_temperature
    z1 = torch.nn.functional.normalize(z1, dim=1)
    z2 = torch.nn.functional.normalize(z2, dim=1)
    s = b1 @ b2.T / (2.0 * n_bits) + 0.5
    P = soft_sort(s, tau=tau_sort)  # (anchor, rank, item)
    gathered = torch.nn.functional.normalize(P @ z1, dim=2)  # (anchor, rank, d)
    return (gathered * z2.unsqueeze(1)).sum(dim=2)


def nt_xent_loss(a, b, temperature=0.2):
    """NT-Xent (InfoNCE over ``2n`` views) of SimCLR (Chen et al., ICML 2020).

    Row ``i`` of ``a`` and row ``i`` of ``b`` are two views of one item; each
    of the ``2n`` vectors must pick its partner among the other ``2n - 1``
    by cosine similarity / ``temperature``. Used as NSH's auxiliary term on
    the latents and, on binary codes, as CIBHash's contrastive term.

    Parameters
    ----------
    a, b : Tensor of shape (n, d)
        The two views' vectors (normalised here).
    temperature : float, default=0.2
        Softmax temperature, > 0.

    Returns
    -------
    loss : Tensor, scalar
        Zero (graph kept) for a single row, which has no negatives.

    Examples
    --------
    >>> import torch
    >>> z = torch.eye(4)
    >>> float(nt_xent_loss(z, z, 0.1)) < 0.01
    True
    """
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}.")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got temperature={temperature!r}.")
    n = a.shape[0]
    if n < 2:
        return 0.0 * (a.sum() + b.sum())
    v = torch.nn.functional.normalize(torch.cat([a, b]), dim=1)
    sim = v @ v.T / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=v.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    idx = torch.arange(n, device=v.device)
    target = torch.cat([idx + n, idx])
    return torch.nn.functional.cross_entropy(sim, target)


__all__ += ["nt_xent_loss"]  # noqa: F405


def cibhash_loss(h1, h2, temperature=0.5, kl_weight=0.001, stochastic=True):
    """CIBHash's loss (Qiu et al., IJCAI 2021) on two views' code logits.

    Bit probabilities ``p = sigmoid(h)``; binary codes are Bernoulli samples
    of ``p`` (``stochastic``) or ``p > 1/2``, with a straight-through
    gradient, mapped to ``{-1, 1}``. The loss is :func:`nt_xent_loss`
    between the two views' codes plus ``kl_weight`` times
    ``KL(Bernoulli(p) || Bernoulli(1/2))`` summed over bits and averaged over
    rows and views (the information bottleneck). A bit is ``h > 0`` either
    way, the same convention as NSH's ``sign(tanh(h))`` codes, so the loss
    also serves as an extra term on NSH's code head.

    Parameters
    ----------
    h1, h2 : Tensor of shape (n, bits)
        Code logits of the two views.
    temperature : float, default=0.5
        NT-Xent temperature.
    kl_weight : float, default=0.001
        Weight of the KL term.
    stochastic : bool, default=True
        Sample the codes (training) or threshold them (evaluation).

    Returns
    -------
    loss : Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> h = 10 * torch.eye(4)
    >>> float(cibhash_loss(h, h, stochastic=False)) < float(
    ...     cibhash_loss(h, h.roll(1, dims=0), stochastic=False))
    True
    """
    codes, kl = [], 0.0
    for h in (h1, h2):
        p = torch.sigmoid(h)
        if stochastic:
            hard = (torch.rand(p.shape, device=p.device, dtype=p.dtype) < p).to(p.dtype)
        else:
            hard = (p > 0.5).to(p.dtype)
        codes.append(2 * (p + (hard - p).detach()) - 1)
        # KL(Bern(p) || Bern(1/2)) = log 2 - H(p), from the logits so it
        # stays finite when p saturates.
        logp = torch.nn.functional.logsigmoid(h)
        log1mp = torch.nn.functional.logsigmoid(-h)
        neg_entropy = p * logp + (1 - p) * log1mp
        kl = kl + (neg_entropy.sum(dim=1) + h.shape[1] * math.log(2)).mean()
    return nt_xent_loss(*codes, temperature) + kl_weight * kl / 2


__all__ += ["cibhash_loss"]  # noqa: F405
