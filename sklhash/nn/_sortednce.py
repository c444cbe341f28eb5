"""SortedNCE without the ``(n, n, n)`` soft permutations: exact, grouped by tie.

NSH's SortedNCE (Shen et al., "Learning to Hash Naturally Sorts", IJCAI
2022; sklhash DESIGN.md section 3.2) soft-sorts, for every anchor ``i``, the
code similarities ``s_ij = b1_i . b2_j / (2K) + 0.5`` with SoftSort (Prillo &
Eisenschlos, ICML 2020), ``P_i[r, j] = softmax_j(-|sort(s_i)_r - s_ij| / tau)``,
gathers the view-1 latents in that order, ``E_ir = sum_j P_i[r, j] z1_j``,
and scores ``c_ir = cos(E_ir, z2_i)``. Written out
(:func:`sklhash.nn.losses.sorted_nce_loss`, the reference), that is an
``(n, n, n)`` tensor of permutations and an ``(n, n, d)`` tensor of
gathered latents per batch: ``O(n^3 d)`` work and about 0.5 GiB at
``n = 256``.

Two facts make most of it redundant, without changing the mathematics:

* Row ``r`` of ``P_i`` depends on ``r`` only through the sorted *value*
  ``sort(s_i)_r``: ranks holding equal similarities share ``E`` and ``c``.
* Column ``j`` of ``P_i`` depends on ``j`` only through ``s_ij``: items of
  equal similarity get equal weight, so only the *sums* of their latents,
  ``S_il = sum_{j : s_ij = v_l} z1_j``, enter ``E``.

Binary codes of ``K`` bits have at most ``K + 1`` similarity levels ``v``, so
with ``L <= K + 1`` levels shared by all anchors ``E_ik = sum_l K_kl S_il /
den_ik``, ``K_kl = exp(-|v_k - v_l| / tau)`` one ``L x L`` Laplace kernel
and ``den_ik = sum_l K_kl count_il``: a sparse level-membership product
(``O(n^2 d)``) and the kernel, applied by two first-order recursions along
the sorted levels (``O(L n d)``), replace the ``O(n^3 d)`` gather. The two
directions of the symmetric loss share the levels (their scores are
transposes) and run as one stacked batch of ``2n`` anchors.
The backward pass is written out by hand
(:class:`_GroupedSortedCosines`) so that it too stays in level space while
routing the gradient exactly as the reference does: each rank ``r`` gets
its own upstream gradient times ``dc/dv`` of its level (sort's backward
then hands it to the item holding that rank, tied or not, because both use
the same ``torch.sort`` call), each item ``j`` the derivative of the
softmax logits ``-|v_k - s_ij| / tau`` in its own ``s_ij``, computed as a
sampled product ``z_j . H_l(j)``. Nothing is approximated or truncated:
values and gradients equal the reference's up to floating-point rounding
(tests/test_sortednce.py). Scores off a grid (real-valued ``b``) make nearly
every entry its own level, where grouping only costs: with more than
``max(n / 2, 65)`` levels the reference's computation runs instead. Large
batches are processed in chunks of anchors to bound memory.
"""

import warnings

import torch

from .softsort import soft_sort

__all__ = ["sorted_nce_loss", "sorted_cosines"]

# Anchors are processed in chunks whose (levels, chunk, max(levels, d))
# temporaries hold at most this many elements. Binary codes of K bits have
# at most K + 1 levels, so a batch of 256 with K <= 64 and d = 128 is one
# chunk; scores off a grid get small chunks and cost what the reference
# costs, in bounded memory.
_CHUNK_ELEMENTS = 1 << 22
# Below this many elements (levels x chunk x d) the level kernel is applied
# as a dense matrix product, above it by two recursions (_Chunk._kernel).
_SCAN_MIN_WORK = 1 << 17
# torch.nn.functional.normalize's default clamp of the norm.
_EPS = 1e-12


def _chunks(n, m, n_levels, d):
    """Anchor slices such that each chunk's level tensors stay bounded."""
    size = n
    while size > 1:
        levels = min(n_levels, size * m)
        if size * levels * max(levels, d) <= _CHUNK_ELEMENTS:
            break
        size = (size + 1) // 2
    return [slice(a, a + size) for a in range(0, n, size)]


def _needs_sorted_columns(device):
    # torch's CPU sparse @ dense (MKL or its own loop) sums each row in any
    # order; other backends are given sorted columns.
    return device.type != "cpu"


def _csr(crow, col, values, shape):
    with warnings.catch_warnings():
        # The CSR layout is flagged beta; the three operations used here
        # (sparse @ dense, its transpose, sampled_addmm) are long supported.
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support")
        return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


class _Chunk:
    """Similarity levels of a chunk of anchors and the grouped forward pass.

    All anchors of the chunk share one list of levels (the distinct scores
    of the chunk, ``L`` of them, ascending; an anchor's empty levels have
    count 0), so the SoftSort kernel ``K_kl = exp(-|v_k - v_l| / tau)`` and
    its signed form ``sign(v_k - v_l) K_kl`` are single ``L x L`` operators,
    applied to level-major ``(L, c * d)`` tensors at once.
    """

    def __init__(self, s, perm, Z, Y, tau, need_grad, levels=None):
        c, n = s.shape
        d = Z.shape[1]
        dev = s.device
        # Both directions of the symmetric loss may come stacked: the first
        # half of the anchors draws its items from the first n rows of Z,
        # the second half from the next n.
        self.halves = Z.shape[0] // n
        self.n = n
        if levels is None:
            levels = torch.unique(s, sorted=True, return_inverse=True)
        values, item_level = levels
        L = values.numel()
        self.tau = tau
        self.values = values
        self.item_level = item_level  # (c, n)
        anchor = torch.arange(c, device=dev).unsqueeze(1)
        # Row of item j of anchor i in the level-major layout: l(i, j) c + i.
        self.key = (item_level * c + anchor).flatten()
        rank_level = item_level.gather(1, perm)
        self.rank_key = (rank_level * c + anchor).flatten()
        counts = torch.bincount(self.key, minlength=L * c)
        self.count = counts.view(L, c).to(Z.dtype)
        crow = torch.zeros(L * c + 1, dtype=torch.long, device=dev)
        crow[1:] = counts.cumsum(0)
        # A[(l, i), j] = 1 when s_ij = v_l: one entry per anchor and item.
        # order[t] = i n + j of A's t-th stored entry, entries by row.
        if _needs_sorted_columns(dev):
            # Columns increasing within a row: a stable sort of the keys.
            self.order = self.key.sort(stable=True).indices
        else:
            # Rows in any column order: anchor i's ranks already list its
            # items by level, so the r-th rank goes to place r - start of
            # its level's row, start being the level's first rank.
            r = torch.arange(n, device=dev)
            new = torch.ones_like(rank_level, dtype=torch.bool)
            new[:, 1:] = rank_level[:, 1:] != rank_level[:, :-1]
            start = (r * new).cummax(dim=1).values
            place = (crow[self.rank_key].view(c, n) + r - start).flatten()
            self.order = torch.empty_like(place)
            self.order[place] = (anchor * n + perm).flatten()
        ones = torch.ones(c * n, dtype=Z.dtype, device=dev)
        # Column of an entry in Z: its item, offset by the anchor's half.
        cols = self.order % n + (self.order // n) // (c // self.halves) * n
        self.A = _csr(crow, cols, ones, (L * c, Z.shape[0]))
        diff = values.unsqueeze(1) - values.unsqueeze(0)
        self.kern = torch.exp(diff.abs() / -tau)
        self.sgn_kern = self.kern * torch.sign(diff)
        # The largest logit of a present level's row is 0 (the level
        # itself), so nothing overflows and den >= 1 there; rows of empty
        # levels are clamped only to stay finite (nothing reads them).
        self.den = (self.kern @ self.count).clamp_min(torch.finfo(Z.dtype).tiny)
        S = (self.A @ Z).view(L, c * d)  # summed latents of each level
        KS, SgS = self._kernel(S, signed=need_grad)
        # The gathered latents are E = KS / den; E itself is never formed.
        self.KS = KS.view(L, c, d)
        self.norm = self.KS.norm(dim=2) / self.den  # |E|
        # Numerators E . y from the item scores a_l = sum_{j in l} z_j . y.
        a = torch.zeros(L * c, dtype=Z.dtype, device=dev)
        zy = torch.cat([y @ z.T for y, z in zip(Y.chunk(self.halves),
                                                Z.chunk(self.halves), strict=True)])
        self.a = a.index_add_(0, self.key, zy.flatten()).view(L, c)
        self.cos = (self.kern @ self.a) / self.den / self.norm.clamp_min(_EPS)
        if need_grad:
            # E_k . (sum_l sgn_kl K_kl S_l) / den_k, for dc/du in backward.
            self.e_dot_f = torch.linalg.vecdot(
                self.KS, SgS.view(L, c, d), dim=2) / self.den**2

    def _kernel(self, M, signed):
        """``K @ M`` and (if ``signed``) ``(sign * K) @ M`` for ``M`` (L, N).

        ``K_kl = exp(-|v_k - v_l| / tau)`` factorises along the sorted
        levels (Laplace kernel), so both products come from two first-order
        recursions, ``F_k = r_k F_{k-1} + M_k`` upwards and ``B_k = r_{k+1}
        B_{k+1} + M_k`` downwards with ``r_k = exp(-(v_k - v_{k-1}) / tau)``:
        ``K M = F + B - M`` and ``(sign * K) M = F - B``, ``O(L N)`` instead
        of the ``O(L^2 N)`` matrix product, which is kept for many levels of
        small width (scores off a grid), where the Python loop would cost
        more.
        """
        L, N = M.shape
        if L * N < _SCAN_MIN_WORK:
            if not signed:
                return self.kern @ M, None
            both = torch.cat([self.kern, self.sgn_kern]) @ M
            return both[:L], both[L:]
        ratios = torch.exp(torch.diff(self.values) / -self.tau).tolist()
        F = torch.empty_like(M)
        B = torch.empty_like(M)
        F[0] = M[0]
        for k in range(1, L):
            torch.add(M[k], F[k - 1], alpha=ratios[k - 1], out=F[k])
        B[L - 1] = M[L - 1]
        for k in range(L - 2, -1, -1):
            torch.add(M[k], B[k + 1], alpha=ratios[k], out=B[k])
        KM = (F + B).sub_(M)
        return KM, (F.sub_(B) if signed else None)

    def cos_by_rank(self):
        c = self.item_level.shape[0]
        return self.cos.flatten()[self.rank_key].view(c, -1)

    def backward(self, grad_c, Z, Y):
        """(dL/ds, dL/dsv, dL/dZ part, dL/dY) of this chunk."""
        L, c, d = self.KS.shape
        n = self.n
        tau, den, cos = self.tau, self.den, self.cos
        # A level's cosine is shared by its ranks: its upstream gradient is
        # the sum of theirs.
        G = torch.zeros(L * c, dtype=grad_c.dtype, device=grad_c.device)
        G = G.index_add_(0, self.rank_key, grad_c.flatten()).view(L, c)
        # Per unit upstream gradient: c = (E . y) / max(|E|, eps), so
        # dc/dnum = 1/max(|E|, eps) and dc/d|E| = -c/|E| above eps, 0 below.
        big = self.norm > _EPS
        norm_c = self.norm.clamp_min(_EPS)
        g_num = 1.0 / norm_c
        g_norm = torch.where(big, -cos / norm_c, torch.zeros_like(cos))
        # rho_k = sum_j P_kj dL/dP_kj = E_k . dc/dE_k: zero by scale
        # invariance of the cosine, except below eps (no normalisation).
        rho = torch.where(big, torch.zeros_like(cos), cos)
        # X_k = dL/dE_k / den_k (with E = KS / den), dL/dP_kj = z_j . dL/dE_k.
        X = torch.addcmul(
            (G * g_num / den).unsqueeze(2) * Y.unsqueeze(0),
            (G * g_norm / (norm_c * den**2)).unsqueeze(2),
            self.KS,
        ).view(L, c * d)
        # Latents: dL/dS_l = sum_k K_kl X_k. Softmax logits -|u_k - s_j|/tau
        # give dL/ds_j = sum_k sgn_kl K_kl (z_j . X_k - rho_k / den_k) / tau
        # for item j at level l; sgn K is antisymmetric: its transpose is -it.
        gS, SgX = self._kernel(X, signed=True)
        grad_Z = self._transpose() @ gS.view(L * c, d)
        # dL/dy_i = sum_k G_k dc_k/dnum_k E_k = sum_j w_{l(i,j)} z_j.
        w = (self.kern @ (G * g_num / den)).flatten()[self.key].view(c, n)
        grad_Y = torch.cat([x @ z for x, z in zip(w.chunk(self.halves),
                                                  Z.chunk(self.halves), strict=True)])
        zh = torch.sparse.sampled_addmm(
            self.A, SgX.view(L * c, d), Z.T, beta=0.0, alpha=-1.0).values()
        grad_s = torch.empty_like(zh)
        grad_s[self.order] = zh
        h = (self.sgn_kern.T @ (G * rho / den)).flatten()
        grad_s = (grad_s - h[self.key]).view(c, n) / tau
        # dc_k/du_k per unit upstream gradient; each rank r of level k gets
        # its own grad_c[r] times this, which sort's backward routes to the
        # item holding rank r, tied or not, exactly as in the reference.
        sg_a = self.sgn_kern @ self.a
        sg_cnt = self.sgn_kern @ self.count
        phi = -(g_norm / norm_c * self.e_dot_f
                + (g_num * sg_a - rho * sg_cnt) / den) / tau
        grad_sv = grad_c * phi.flatten()[self.rank_key].view(c, n)
        return grad_s, grad_sv, grad_Z, grad_Y

    def _transpose(self):
        # A^T as CSR: row j (of Z) holds the entry of each anchor i of its
        # half at column l(i, j) c + i. CSR wants each row's columns sorted;
        # the CPU kernel (a sum per row) does not need it, and sorting costs
        # as much as the product.
        c, n, h = self.item_level.shape[0], self.n, self.halves
        cols = self.key.view(h, c // h, n).transpose(1, 2).reshape(h * n, c // h)
        cols = (cols.sort(dim=1).values.flatten()
                if _needs_sorted_columns(cols.device) else cols.flatten())
        crow = torch.arange(0, c * n + 1, c // h, device=cols.device)
        ones = torch.ones(c * n, dtype=self.KS.dtype, device=cols.device)
        return _csr(crow, cols, ones, (h * n, self.A.shape[0]))


class _GroupedSortedCosines(torch.autograd.Function):
    """``c[i, r] = cos(sum_j P_i[r, j] Z_j, Y_i)`` from tie levels.

    Inputs: the scores ``s`` (n, n), their descending sort ``sv`` with its
    permutation ``perm`` (one ``torch.sort`` call outside, so that autograd
    routes the gradient of ``sv`` back to ``s`` exactly as in the
    reference), the unit latents ``Z`` (view 1) and ``Y`` (view 2) and the
    SoftSort temperature. ``s`` gets the gradient of the items' side of
    the softmax, ``sv`` that of the ranks' side.
    """

    @staticmethod
    def forward(ctx, s, sv, perm, Z, Y, tau, levels=None):
        need_grad = any(ctx.needs_input_grad)
        if levels is None:
            levels = torch.unique(s, sorted=True, return_inverse=True)
        chunks = _chunks(*s.shape, levels[0].numel(), Z.shape[1])
        if len(chunks) > 1:
            if Z.shape[0] != s.shape[1]:
                raise RuntimeError("stacked directions must fit in one chunk")
            levels = None  # each chunk has its own, fewer levels
        out = torch.empty_like(s)
        kept = []
        for b in chunks:
            chunk = _Chunk(s[b], perm[b], Z, Y[b], tau, need_grad, levels)
            out[b] = chunk.cos_by_rank()
            # One chunk: keep it for backward; several: recompute each there,
            # so that memory stays bounded by one chunk.
            kept.append(chunk if len(chunks) == 1 else None)
        ctx.tau, ctx.chunks, ctx.kept = tau, chunks, kept
        ctx.save_for_backward(s, perm, Z, Y)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_c):
        s, perm, Z, Y = ctx.saved_tensors
        grad_s = torch.empty_like(s)
        grad_sv = torch.empty_like(s)
        grad_Z = torch.zeros_like(Z)
        grad_Y = torch.empty_like(Y)
        for b, chunk in zip(ctx.chunks, ctx.kept, strict=True):
            if chunk is None:
                chunk = _Chunk(s[b], perm[b], Z, Y[b], ctx.tau, True)
            grad_s[b], grad_sv[b], gz, grad_Y[b] = chunk.backward(grad_c[b], Z, Y[b])
            grad_Z += gz
        ctx.kept = None
        return grad_s, grad_sv, None, grad_Z, grad_Y, None, None


def sorted_cosines(b1, b2, z1, z2, sort_temperature=None):
    """The rank-ordered cosines ``c_ir`` of :func:`sorted_nce_loss`.

    Same arguments and result as :func:`sklhash.nn.losses.sorted_cosines`,
    computed per similarity level (module docstring).

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
    return _cosines(_scores(b1, b2), z1, z2, _tau_sort(b1, sort_temperature))


def _tau_sort(b, sort_temperature):
    tau = 1.0 / b.shape[1] if sort_temperature is None else sort_temperature
    if not tau > 0:
        raise ValueError(f"sort_temperature must be > 0, got {sort_temperature!r}.")
    return float(tau)


def _scores(b1, b2):
    # The reference's expression, operation for operation: equal scores
    # give equal levels and the same sort.
    return b1 @ b2.T / (2.0 * b1.shape[1]) + 0.5


def _few_levels(n_levels, n):
    # Grouping pays while levels are few against the batch: binary codes of
    # up to 64 bits always qualify (L <= 65); real-valued scores (nearly
    # every entry its own level) would make the level tensors n times the
    # reference's gathered latents.
    return n_levels <= max(n // 2, 65)


def _cosines(s, z1, z2, tau, levels=None):
    z1 = torch.nn.functional.normalize(z1, dim=1)
    z2 = torch.nn.functional.normalize(z2, dim=1)
    if levels is None:
        levels = torch.unique(s, sorted=True, return_inverse=True)
    if not _few_levels(levels[0].numel(), s.shape[1]):
        # The reference's computation, operation for operation.
        P = soft_sort(s, tau=tau)
        gathered = torch.nn.functional.normalize(P @ z1, dim=2)
        return (gathered * z2.unsqueeze(1)).sum(dim=2)
    sv, perm = s.sort(dim=1, descending=True)
    return _GroupedSortedCosines.apply(s, sv, perm, z1, z2, tau, levels)


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
    """SortedNCE, exact, without the ``(n, n, n)`` soft permutations.

    A drop-in for :func:`sklhash.nn.losses.sorted_nce_loss` (same arguments,
    same value and gradients up to floating-point rounding): for anchor ``i``
    the batch is soft-sorted by code similarity
    ``s_ij = b1_i . b2_j / (2K) + 0.5`` (SoftSort, descending), the view-1
    latents are gathered in that order and compared with ``z2_i``, giving
    cosines ``c_ir``; the first ``m`` ranks are positives, the rest
    negatives::

        L = mean_i mean_{r < m} -log( e^{c_ir/tau} /
                                      (e^{c_ir/tau} + sum_{r' >= m} e^{c_ir'/tau}) )

    Ranks and items that tie in similarity are handled once per similarity
    level (module docstring), so the ``(n, n, n)`` soft permutations and
    ``(n, n, d)`` gathered latents of the reference are never built.

    Parameters
    ----------
    b1, b2 : Tensor of shape (n, K)
        Codes of the two views, in {-1, +1} in the forward pass (typically
        :func:`sklhash.nn._ste.sign_ste` of ``tanh`` outputs). Other values
        are allowed and give the reference's result, at the reference's
        cost (every item its own level).
    z1, z2 : Tensor of shape (n, d)
        Latent vectors of the two views (normalised here).
    n_positives : int, default=8
        Number of top ranks ``m`` taken as positives; clipped to ``n - 1`` on
        small batches so at least one negative remains.
    temperature : float, default=0.3
        Temperature ``tau`` of the contrastive logits.
    sort_temperature : float or None, default=None
        Temperature of SoftSort; None means ``1 / K``.
    symmetric : bool, default=False
        Also add the loss with the views' roles swapped and average.

    Returns
    -------
    loss : Tensor, scalar

    Notes
    -----
    Time per direction: ``O(n^2 d + L n d)`` for ``L`` distinct
    similarities in the batch (at most ``K + 1`` for ``K``-bit binary
    codes), against the reference's ``O(n^3 d)``; measured on one thread
    (``benchmarks/bench_nsh_speed.py``, ``K = 32``, ``d = 128``, symmetric,
    forward + backward): 9-10x faster at ``n = 128`` and 40-60x at ``n =
    256``. Memory: a few ``(n, n)`` tensors (scores, sort, levels,
    gradients), the ``n^2``-entry sparse level-membership matrices and a
    handful of ``(L, 2n, d)`` level tensors; anchors are chunked so that
    ``chunk * L * max(L, d) <= 2**22``. Measured peak resident memory of
    one symmetric forward + backward (float32, ``K = 32``, ``d = 128``)
    above the inputs: about 22 MiB at ``n = 128`` and 45-57 MiB at
    ``n = 256`` (both directions stacked), against 130 MiB and 520 MiB for
    the reference; tests/test_sortednce.py checks the 256 case stays below
    96 MiB.

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
    n = b1.shape[0]
    if n < 2:
        # One item has no negatives: no signal, but keep the graph connected.
        return 0.0 * (b1.sum() + b2.sum() + z1.sum() + z2.sum())
    m = min(int(n_positives), n - 1)
    tau_sort = _tau_sort(b1, sort_temperature)

    def one_way_logits(c):
        neg = torch.logsumexp(c[:, m:], dim=1, keepdim=True)
        # -log(e^p / (e^p + e^neg)) = softplus(neg - p), computed stably.
        return torch.nn.functional.softplus(neg - c[:, :m]).mean()

    def one_way(s, za, zb, levels=None):
        return one_way_logits(_cosines(s, za, zb, tau_sort, levels) / temperature)

    s12 = _scores(b1, b2)
    if not symmetric:
        return one_way(s12, z1, z2)
    levels = torch.unique(s12, sorted=True, return_inverse=True)
    s21 = _scores(b2, b1)
    n_levels = levels[0].numel()
    if (not torch.equal(s21, s12.T) or not _few_levels(n_levels, n)
            or len(_chunks(2 * n, n, n_levels, z1.shape[1])) > 1):
        return 0.5 * (one_way(s12, z1, z2, levels) + one_way(s21, z2, z1))
    # The swapped direction scores the transpose (exactly so for binary
    # codes, whose dot products are integers): it shares the levels, and
    # both directions go through the grouped computation as one stacked
    # batch of 2n anchors (half the operations, each twice as large).
    stacked = torch.cat([s12, s21])
    shared = (levels[0], torch.cat([levels[1], levels[1].T]))
    c = _cosines(stacked, torch.cat([z1, z2]), torch.cat([z2, z1]), tau_sort,
                 shared) / temperature
    return 0.5 * (one_way_logits(c[:n]) + one_way_logits(c[n:]))
