"""Losses of the deep supervised hashing baselines, as pure torch functions.

Each function takes a batch of network outputs and the supervision for that
batch and returns a scalar loss; nothing here knows about skorch or
scikit-learn, so the losses can be unit-tested by hand and reused in any
training loop.

* :func:`dpsh_loss` -- DPSH (Li, Wang & Kang, IJCAI 2016): pairwise
  likelihood of the labels under ``sigma(u_i . u_j / 2)`` plus a quantisation
  penalty.
* :func:`hashnet_loss` -- HashNet (Cao et al., ICCV 2017): weighted pairwise
  cross-entropy that balances similar and dissimilar pairs.
* :func:`csq_loss` -- CSQ (Yuan et al., CVPR 2020): binary cross-entropy of
  each output to its hash centre plus a quantisation penalty;
  :func:`hash_centers` and :func:`sample_centers` build those centres.
* :func:`label_similarity` -- pairwise supervision from class labels or a
  multi-label indicator matrix.

Pairs are always the ordered pairs ``i != j`` of the batch: the trivial pair
of a sample with itself carries no information and would bias every loss
towards large norms.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "csq_loss",
    "dpsh_loss",
    "hadamard",
    "hash_centers",
    "hashnet_beta",
    "hashnet_loss",
    "label_similarity",
    "sample_centers",
]


def _off_diagonal(n, device):
    return ~torch.eye(n, dtype=torch.bool, device=device)


def _check_pairs(u, s):
    if u.ndim != 2:
        raise ValueError(
            f"u must be 2-d (n_samples, bits), got shape {tuple(u.shape)}."
        )
    n = u.shape[0]
    if s.shape != (n, n):
        raise ValueError(
            f"s must have shape (n_samples, n_samples) = ({n}, {n}), "
            f"got {tuple(s.shape)}."
        )


def label_similarity(y_a, y_b=None, *, kind="binary"):
    """Pairwise similarity of labels, as used by the pairwise losses.

    Parameters
    ----------
    y_a : Tensor of shape (n,) or (n, n_classes)
        Class labels (1-d, any integer values) or a multi-label indicator
        matrix (2-d, non-negative).
    y_b : Tensor of the same kind, default=None
        Second set; ``None`` means ``y_a``.
    kind : {"binary", "cosine"}, default="binary"
        ``"binary"``: 1 where the two samples share at least one label, else
        0 (DPSH, HashNet). ``"cosine"``: cosine of the indicator vectors
        (HashNet's multi-label weight ``c_ij``); equals ``"binary"`` for
        single labels. A row without any label is similar to nothing.

    Returns
    -------
    s : Tensor of shape (n_a, n_b)
        Pairwise similarity, float32.
    """
    if kind not in ("binary", "cosine"):
        raise ValueError(f"kind must be 'binary' or 'cosine', got {kind!r}.")
    y_b = y_a if y_b is None else y_b
    if y_a.ndim != y_b.ndim or y_a.ndim not in (1, 2):
        raise ValueError(
            "y_a and y_b must both be 1-d class labels or both 2-d indicator "
            f"matrices, got ndim {y_a.ndim} and {y_b.ndim}."
        )
    if y_a.ndim == 1:
        return (y_a[:, None] == y_b[None, :]).to(torch.float32)
    a = y_a.to(torch.float32)
    b = y_b.to(torch.float32)
    inner = a @ b.T
    if kind == "binary":
        return (inner > 0).to(torch.float32)
    norms = a.norm(dim=1)[:, None] * b.norm(dim=1)[None, :]
    ratio = inner / norms.clamp_min(1e-12)
    return torch.where(norms > 0, ratio, torch.zeros_like(inner))


def dpsh_loss(u, s, *, eta=0.1):
    """DPSH loss: pairwise negative log-likelihood plus quantisation.

    With ``theta_ij = u_i . u_j / 2`` the labels are modelled as
    ``p(s_ij = 1) = sigmoid(theta_ij)``; the negative log-likelihood of a pair
    is ``log(1 + exp(theta_ij)) - s_ij * theta_ij``, computed as
    ``softplus(theta) - s * theta`` so it never overflows. The quantisation
    term pulls the real outputs towards their codes ``b = sgn(u)`` (the bit
    convention of sklhash: ``b = +1`` where ``u > 0``, else ``-1``).

    ``loss = mean_{i != j} [softplus(theta_ij) - s_ij theta_ij]
    + eta * mean_{i, k} (u_ik - b_ik)^2``

    The paper sums both terms; sklhash averages them (pairs and entries), so
    ``eta`` does not need re-tuning when the batch size or ``bits`` change.
    The DeepHash-pytorch implementation uses the same normalisation.

    Parameters
    ----------
    u : Tensor of shape (n, bits)
        Real-valued network outputs (DPSH uses a linear output layer).
    s : Tensor of shape (n, n)
        Pairwise labels in ``[0, 1]`` (1 = similar).
    eta : float, default=0.1
        Weight of the quantisation term.

    Returns
    -------
    loss : Tensor
        The scalar loss.

    References
    ----------
    .. [1] W.-J. Li, S. Wang and W.-C. Kang, "Feature learning based deep
       supervised hashing with pairwise labels", IJCAI 2016.
    """
    _check_pairs(u, s)
    n = u.shape[0]
    s = s.to(u.dtype)
    theta = 0.5 * (u @ u.T)
    nll = F.softplus(theta) - s * theta
    if n > 1:
        likelihood = nll[_off_diagonal(n, u.device)].mean()
    else:
        likelihood = u.sum() * 0.0
    b = torch.where(u > 0, 1.0, -1.0).to(u.dtype).detach()
    return likelihood + eta * (u - b).pow(2).mean()


def hashnet_loss(u, s, *, alpha=1.0, balance=True):
    """HashNet loss: weighted pairwise cross-entropy on ``tanh`` codes.

    The pair likelihood is ``p(s_ij = 1) = sigmoid(alpha * u_i . u_j)`` on the
    continuous codes ``u = tanh(beta * z)`` (the continuation in ``beta`` lives
    in the network, not here). Similar pairs are far rarer than dissimilar
    ones, so each pair is weighted by ``|S| / |S_1|`` when similar and by
    ``|S| / |S_0|`` when dissimilar (``S`` the set of pairs, ``S_1`` and
    ``S_0`` its similar and dissimilar parts); for multi-label data a similar
    pair's weight is further multiplied by ``s_ij`` itself, the cosine of the
    label vectors (the paper's ``c_ij``).

    ``loss = (1/|S|) sum_{i != j} w_ij [softplus(alpha u_i.u_j)
    - 1[s_ij > 0] alpha u_i.u_j]``

    Parameters
    ----------
    u : Tensor of shape (n, bits)
        Continuous codes in ``[-1, 1]``.
    s : Tensor of shape (n, n)
        Pairwise similarity in ``[0, 1]``; ``s_ij > 0`` marks a similar pair
        and its value is the pair's weight ``c_ij`` (use
        :func:`label_similarity` with ``kind="cosine"``).
    alpha : float, default=1.0
        Scale of the inner product inside the sigmoid; HashNet's released code
        uses ``10 / bits``.
    balance : bool, default=True
        Apply the ``|S| / |S_1|``, ``|S| / |S_0|`` weights.

    Returns
    -------
    loss : Tensor
        The scalar loss.

    References
    ----------
    .. [1] Z. Cao, M. Long, J. Wang and P. S. Yu, "HashNet: Deep learning to
       hash by continuation", ICCV 2017.
    """
    _check_pairs(u, s)
    n = u.shape[0]
    if n < 2:
        return u.sum() * 0.0
    mask = _off_diagonal(n, u.device)
    s = s.to(u.dtype)[mask]
    theta = alpha * (u @ u.T)[mask]
    positive = s > 0
    nll = F.softplus(theta) - positive.to(u.dtype) * theta
    weight = torch.where(positive, s, torch.ones_like(s))
    if balance:
        n_pos = int(positive.sum())
        n_neg = s.numel() - n_pos
        # A batch with pairs of one kind only has nothing to balance against.
        if n_pos and n_neg:
            weight = weight * torch.where(
                positive, s.numel() / n_pos, s.numel() / n_neg
            )
    return (weight * nll).sum() / s.numel()


def csq_loss(z, centers, *, lam=1e-4):
    """CSQ loss: binary cross-entropy to the hash centres plus quantisation.

    The network gives pre-activations ``z``; the continuous codes are
    ``u = tanh(z)``. Each bit of ``h = (u + 1) / 2`` is scored against the
    corresponding bit of the sample's centre ``c`` (in ``{-1, +1}``, mapped
    to ``{0, 1}``) by binary cross-entropy. Because
    ``(tanh(z) + 1) / 2 = sigmoid(2 z)`` it is computed from the logits
    ``2 z``, which stays finite where ``tanh`` saturates. The quantisation
    term is the released code's ``mean((|u| - 1)^2)``; the paper writes
    ``log cosh(|u| - 1)``, which agrees with half of it to second order.

    ``loss = mean_{i,k} BCE(sigmoid(2 z_ik), (c_ik + 1) / 2)
    + lam * mean_{i,k} (|tanh z_ik| - 1)^2``

    Parameters
    ----------
    z : Tensor of shape (n, bits)
        Pre-activations; the code bit is ``z > 0``.
    centers : Tensor of shape (n, bits)
        Each sample's hash centre, entries in ``{-1, +1}``.
    lam : float, default=1e-4
        Weight of the quantisation term (the authors' default).

    Returns
    -------
    loss : Tensor
        The scalar loss.

    References
    ----------
    .. [1] L. Yuan, T. Wang, X. Zhang, F. E. H. Tay, Z. Jie, W. Liu and
       J. Feng, "Central similarity quantization for efficient image and
       video retrieval", CVPR 2020.
    """
    if z.shape != centers.shape or z.ndim != 2:
        raise ValueError(
            "z and centers must be 2-d of the same shape, got "
            f"{tuple(z.shape)} and {tuple(centers.shape)}."
        )
    target = (centers.to(z.dtype) + 1) / 2
    center_loss = F.binary_cross_entropy_with_logits(2 * z, target)
    quant = (torch.tanh(z).abs() - 1).pow(2).mean()
    return center_loss + lam * quant


def hadamard(n):
    """Build the Sylvester Hadamard matrix of order ``n`` (a power of two).

    ``H_1 = [1]``, ``H_2m = [[H_m, H_m], [H_m, -H_m]]``; rows are mutually
    orthogonal, so any two differ in exactly ``n / 2`` positions.

    Parameters
    ----------
    n : int
        Order, a power of two.

    Returns
    -------
    H : ndarray of shape (n, n)
        Entries in {-1, +1}, dtype int8.
    """
    if not isinstance(n, (int, np.integer)) or n < 1 or n & (n - 1):
        raise ValueError(f"n must be a positive power of two, got {n!r}.")
    h = np.ones((1, 1), dtype=np.int8)
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def _random_centers(n_classes, bits, rng, n_trials):
    """Balanced random +-1 centres, best of ``n_trials`` by minimum distance.

    Each centre has ``bits // 2`` entries equal to -1, as in the authors'
    code; among the draws the one whose closest pair of centres is farthest
    apart wins, so no two classes share (or nearly share) a centre.
    """
    best, best_min = None, -1
    for _ in range(n_trials):
        c = np.ones((n_classes, bits), dtype=np.int8)
        for row in c:
            row[rng.permutation(bits)[: bits // 2]] = -1
        if n_classes < 2:
            return c
        dist = (bits - c.astype(np.int64) @ c.T.astype(np.int64)) // 2
        np.fill_diagonal(dist, bits)
        if dist.min() > best_min:
            best, best_min = c, dist.min()
    return best


def hash_centers(n_classes, bits, *, random_state=None, n_trials=50):
    """One hash centre per class, as in CSQ.

    When ``bits`` is a power of two and ``n_classes <= 2 * bits`` the centres
    are rows of ``[H; -H]`` for the Hadamard matrix ``H`` of order ``bits``:
    any two are ``bits / 2`` apart (or ``bits`` for a row and its negation).
    Otherwise (more classes, or ``bits`` not a power of two) they are random
    balanced ``+-1`` vectors; the most spread-out of ``n_trials`` draws is
    kept.

    Parameters
    ----------
    n_classes : int
        Number of classes.
    bits : int
        Code length.
    random_state : numpy Generator, RandomState, int or None, default=None
        Seeds the random centres (unused for Hadamard centres).
    n_trials : int, default=50
        Random draws to choose from.

    Returns
    -------
    centers : ndarray of shape (n_classes, bits)
        Entries +-1, dtype float32; row ``k`` is class ``k``'s centre.

    References
    ----------
    .. [1] L. Yuan et al., "Central similarity quantization for efficient
       image and video retrieval", CVPR 2020, Sec. 3.2.
    """
    if n_classes < 1 or bits < 1:
        raise ValueError(
            f"n_classes and bits must be >= 1, got n_classes={n_classes}, bits={bits}."
        )
    if bits & (bits - 1) == 0 and n_classes <= 2 * bits:
        h = hadamard(bits)
        return np.concatenate([h, -h])[:n_classes].astype(np.float32)
    rng = _as_generator(random_state)
    return _random_centers(n_classes, bits, rng, n_trials).astype(np.float32)


def _as_generator(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    return np.random.default_rng(random_state)


def sample_centers(Y, centers, tie_break):
    """Each sample's centre: the binarised centroid of its classes' centres.

    For one label this is the class centre itself. For several labels the
    centres are averaged and the sign taken; bits where the average is
    exactly 0 (and rows with no label at all) take the value of
    ``tie_break``, a fixed random ``+-1`` vector, as in CSQ's multi-label
    rule.

    Parameters
    ----------
    Y : ndarray of shape (n, n_classes)
        Label indicator matrix (non-negative).
    centers : ndarray of shape (n_classes, bits)
        Class centres, entries +-1.
    tie_break : ndarray of shape (bits,)
        Entries +-1 used where the centroid is 0.

    Returns
    -------
    targets : ndarray of shape (n, bits)
        Entries +-1, dtype float32.
    """
    total = np.asarray(Y, dtype=np.float64) @ np.asarray(centers, dtype=np.float64)
    out = np.sign(total)
    out = np.where(out == 0, np.asarray(tie_break, dtype=np.float64)[None, :], out)
    return out.astype(np.float32)


def hashnet_beta(step, *, gamma=0.005, power=0.5):
    """Compute HashNet's continuation ``beta = (1 + gamma * step) ** power``.

    Parameters
    ----------
    step : int
        Optimisation steps taken so far.
    gamma : float, default=0.005
        Growth rate (the authors' code: 0.005).
    power : float, default=0.5
        Exponent (the authors' code: 0.5).

    Returns
    -------
    beta : float
        Steepness of ``tanh(beta * z)``; 1 at step 0.
    """
    return math.pow(1.0 + gamma * step, power)
