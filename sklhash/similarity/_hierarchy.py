"""Class hierarchies (trees or DAGs over labels) and the similarity they define.

The similarity is the one of Barz & Denzler (WACV 2019): the height of the
lowest common subsumer, normalised by the height of the whole hierarchy,

    sim(a, b) = 1 - height(lcs(a, b)) / max_height,

with heights counted from the bottom (a leaf has height 0, an inner node is one
more than its highest child) and the lowest common subsumer being the common
ancestor of greatest depth (depth = length of the *longest* path from a root,
so that it is well defined in a DAG too).
"""

import json
import numbers
import os
import stat
from collections.abc import Iterable, Mapping

import numpy as np

_FORMAT = "sklhash.LabelHierarchy"
_FORMAT_VERSION = 1
_KINDS = ("height", "wu_palmer")
# The largest hierarchy file read (ImageNet-21k's tree is a few MB).
_MAX_JSON_BYTES = 256 << 20


def _as_list(labels):
    """Turn labels (list, tuple, numpy array, ...) into a list of plain labels."""
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1:
            raise ValueError(
                f"labels must be one-dimensional, got an array of shape {labels.shape}."
            )
        return labels.tolist()
    return list(labels)


def _json_label(node):
    """A label as a JSON scalar, refusing labels that would not come back equal."""
    if isinstance(node, np.generic):
        node = node.item()
    if isinstance(node, bool) or node is None:
        raise ValueError(f"node {node!r} cannot be stored in JSON as a label.")
    if isinstance(node, numbers.Integral):
        return int(node)
    if isinstance(node, str):
        return node
    raise ValueError(
        f"node {node!r} of type {type(node).__name__} cannot be stored in JSON; "
        "only int and str labels round-trip."
    )


class LabelHierarchy:
    """A tree or DAG over class labels and the semantic similarity it defines.

    The leaves are the classes a dataset uses; inner nodes group them. Any
    hashable objects can serve as nodes (ints, strings, WordNet synset names).
    Build one with :meth:`from_parent_map`, :meth:`from_edges`,
    :meth:`from_coarse_fine` or :meth:`from_wordnet`, or load a stored one with
    :meth:`from_dict` / :meth:`from_json`.

    Parameters
    ----------
    parents : mapping of node to sequence of nodes
        The parents of every node that has any. Nodes that only appear as
        parents (or that map to an empty sequence) are roots.
    classes : sequence of nodes, default=None
        The leaf labels in the order used by :meth:`similarity_matrix` when no
        labels are given. Every leaf must be listed and every listed node must
        be a leaf. ``None`` takes all leaves, sorted when they are mutually
        comparable and in order of first appearance otherwise.
    names : mapping of node to str, default=None
        Human-readable names (see :meth:`name`); missing nodes are named
        ``str(node)``.

    Attributes
    ----------
    classes : list
        The leaf labels.
    nodes : list
        All nodes, parents before children (a topological order).
    max_height : int
        The height of the highest root.

    See Also
    --------
    EmbeddingSimilarity : Cosine similarity of class or sample vectors.

    References
    ----------
    .. [1] B. Barz and J. Denzler, "Hierarchy-based Image Embeddings for
       Semantic Image Retrieval", WACV 2019.

    Examples
    --------
    >>> from sklhash.similarity import LabelHierarchy
    >>> h = LabelHierarchy.from_parent_map(
    ...     {"cat": "mammal", "dog": "mammal", "mammal": "animal", "trout": "animal"})
    >>> h
    LabelHierarchy(n_classes=3, n_nodes=5, max_height=2, tree=True)
    >>> h.classes
    ['cat', 'dog', 'trout']
    >>> h.lcs("cat", "dog"), h.similarity("cat", "dog"), h.similarity("cat", "trout")
    ('mammal', 0.5, 0.0)
    >>> h.similarity_matrix()
    array([[1. , 0.5, 0. ],
           [0.5, 1. , 0. ],
           [0. , 0. , 1. ]])
    """

    def __init__(self, parents, classes=None, names=None):
        if not isinstance(parents, Mapping):
            raise ValueError(
                "parents must be a mapping node -> parents, got "
                f"{type(parents).__name__}."
            )
        parent_map = {}
        order = {}  # first appearance, for deterministic iteration

        def _see(node):
            try:
                hash(node)
            except TypeError:
                raise ValueError(f"node {node!r} is not hashable.") from None
            if node is None:
                raise ValueError("None cannot be a node of a LabelHierarchy.")
            order.setdefault(node, len(order))

        for child, ps in parents.items():
            _see(child)
            # A string is iterable: "odd" would silently become the three
            # parents "o", "d", "d".
            if isinstance(ps, (str, bytes)) or not isinstance(ps, Iterable):
                raise ValueError(
                    f"the parents of {child!r} must be a sequence of nodes, got "
                    f"{ps!r}; write [{ps!r}] for a single parent, or use "
                    "LabelHierarchy.from_parent_map."
                )
            ps = list(ps)
            for p in ps:
                _see(p)
                if p == child:
                    raise ValueError(f"cycle in the hierarchy: {child!r} -> {child!r}.")
            # a repeated parent is one edge; keep the first order
            parent_map[child] = tuple(dict.fromkeys(ps))
        if not order:
            raise ValueError("empty hierarchy: no nodes were given.")

        nodes = sorted(order, key=order.__getitem__)
        for node in nodes:
            parent_map.setdefault(node, ())
        children = {node: [] for node in nodes}
        for child in nodes:
            for p in parent_map[child]:
                children[p].append(child)

        self._parents = parent_map
        self._children = {k: tuple(v) for k, v in children.items()}
        self._nodes = self._topological_order(nodes)
        self._index = {node: i for i, node in enumerate(self._nodes)}

        # depth: longest path from a root; height: longest path down to a leaf
        depth = {}
        for node in self._nodes:
            depth[node] = max((depth[p] + 1 for p in parent_map[node]), default=0)
        height = {}
        for node in reversed(self._nodes):
            height[node] = max((height[c] + 1 for c in self._children[node]), default=0)
        self._depth = depth
        self._height = height
        self._max_height = max(height.values())

        leaves = [node for node in nodes if not self._children[node]]
        if classes is None:
            try:
                classes = sorted(leaves)
            except TypeError:
                classes = leaves
        else:
            classes = _as_list(classes)
            seen = set()
            for c in classes:
                if c not in self._index:
                    raise ValueError(f"class {c!r} is not a node of the hierarchy.")
                if self._children[c]:
                    raise ValueError(
                        f"class {c!r} is not a leaf (it has children "
                        f"{list(self._children[c])[:5]!r}); hang the class as its "
                        "own leaf under that node instead."
                    )
                if c in seen:
                    raise ValueError(f"class {c!r} is listed twice.")
                seen.add(c)
            missing = [leaf for leaf in leaves if leaf not in seen]
            if missing:
                raise ValueError(
                    f"leaves {missing[:5]!r} are missing from classes; every leaf "
                    "must be a class."
                )
        self._classes = list(classes)
        self._names = {}
        if names is not None:
            for node, name in dict(names).items():
                if node not in self._index:
                    raise ValueError(f"names refers to unknown node {node!r}.")
                self._names[node] = str(name)
        self._ancestor_cache = {}

    # ------------------------------------------------------------------ build
    def _topological_order(self, nodes):
        """Nodes with every parent before its children; raises on a cycle."""
        # Kahn's algorithm in first-appearance order, so the order is stable
        n_parents = {node: len(self._parents[node]) for node in nodes}
        stack = [node for node in reversed(nodes) if not n_parents[node]]
        out = []
        while stack:
            node = stack.pop()
            out.append(node)
            for c in reversed(self._children[node]):
                n_parents[c] -= 1
                if not n_parents[c]:
                    stack.append(c)
        if len(out) < len(nodes):
            raise ValueError(f"cycle in the hierarchy: {_find_cycle(self._parents)}.")
        return out

    @classmethod
    def from_parent_map(cls, parent_map, *, classes=None, names=None):
        """Build a hierarchy from ``{child: parent}``.

        Parameters
        ----------
        parent_map : mapping
            ``{child: parent}``. A value may also be a list, set or frozenset
            of parents (a DAG) or ``None`` for an explicit root. Tuples are
            taken as single (tuple) labels.
        classes : sequence, default=None
            The class order; see :class:`LabelHierarchy`.
        names : mapping, default=None
            Readable node names; see :class:`LabelHierarchy`.

        Returns
        -------
        LabelHierarchy

        Examples
        --------
        >>> h = LabelHierarchy.from_parent_map({0: "even", 2: "even", 1: "odd",
        ...                                     "even": "n", "odd": "n"})
        >>> h.classes, h.max_height
        ([0, 1, 2], 2)
        """
        if not isinstance(parent_map, Mapping):
            raise ValueError(
                "parent_map must be a mapping {child: parent}, got "
                f"{type(parent_map).__name__}."
            )
        parents = {}
        for child, p in parent_map.items():
            if p is None:
                parents[child] = ()
            elif isinstance(p, (list, set, frozenset)):
                # sets have no order: sort when possible so the result is stable
                if isinstance(p, (set, frozenset)):
                    try:
                        p = sorted(p)
                    except TypeError:
                        p = list(p)
                parents[child] = tuple(p)
            else:
                parents[child] = (p,)
        return cls(parents, classes=classes, names=names)

    @classmethod
    def from_edges(cls, edges, *, classes=None, names=None):
        """Build a hierarchy from ``(parent, child)`` pairs.

        Parameters
        ----------
        edges : iterable of (parent, child) pairs
            A child listed with several parents makes a DAG.
        classes : sequence, default=None
            The class order; see :class:`LabelHierarchy`.
        names : mapping, default=None
            Readable node names; see :class:`LabelHierarchy`.

        Returns
        -------
        LabelHierarchy

        Examples
        --------
        >>> h = LabelHierarchy.from_edges([("animal", "cat"), ("animal", "dog")])
        >>> h.similarity("cat", "dog")
        0.0
        """
        parents = {}
        for edge in edges:
            try:
                parent, child = edge
            except (TypeError, ValueError):
                raise ValueError(
                    f"edges must be (parent, child) pairs, got {edge!r}."
                ) from None
            parents.setdefault(parent, [])
            parents.setdefault(child, []).append(parent)
        return cls(parents, classes=classes, names=names)

    @classmethod
    def from_coarse_fine(
        cls,
        fine_labels,
        coarse_labels,
        *,
        fine_names=None,
        coarse_names=None,
        root="root",
    ):
        """Two-level hierarchy from (fine, coarse) label pairs, CIFAR-100 style.

        Parameters
        ----------
        fine_labels, coarse_labels : array-like of shape (n,)
            Pairs of labels, e.g. the per-sample ``fine_labels`` and
            ``coarse_labels`` of CIFAR-100, or one pair per fine class. A fine
            label must always come with the same coarse label.
        fine_names, coarse_names : sequence or mapping, default=None
            Names of the fine / coarse labels (indexable by the label).
        root : hashable, default="root"
            The root node.

        Returns
        -------
        LabelHierarchy
            Leaves are the fine labels; the coarse nodes are named
            ``"coarse:<label>"`` so that they never collide with fine labels.

        Examples
        --------
        >>> h = LabelHierarchy.from_coarse_fine([0, 1, 2, 0], [0, 0, 1, 0])
        >>> h.lcs(0, 1), h.similarity(0, 1), h.similarity(0, 2)
        ('coarse:0', 0.5, 0.0)
        """
        fine = _as_list(fine_labels)
        coarse = _as_list(coarse_labels)
        if len(fine) != len(coarse):
            raise ValueError(
                f"fine_labels and coarse_labels differ in length: {len(fine)} != "
                f"{len(coarse)}."
            )
        if not fine:
            raise ValueError("empty hierarchy: fine_labels is empty.")
        parent_of = {}
        for f, c in zip(fine, coarse, strict=True):
            node = f"coarse:{c}"
            if parent_of.setdefault(f, node) != node:
                raise ValueError(
                    f"fine label {f!r} comes with two coarse labels: "
                    f"{parent_of[f][7:]!r} and {c!r}."
                )
        if root in parent_of:
            raise ValueError(f"root {root!r} collides with a fine label.")
        parents = dict(parent_of)
        for node in dict.fromkeys(parent_of.values()):
            parents[node] = root
        names = {}
        if fine_names is not None:
            names.update({f: fine_names[f] for f in parent_of})
        if coarse_names is not None:
            names.update(
                {f"coarse:{c}": coarse_names[c] for c in dict.fromkeys(coarse)}
            )
        return cls.from_parent_map(parents, names=names)

    @classmethod
    def from_wordnet(cls, synsets, *, mode="tree", names=None, wordnet=None):
        """Build a hierarchy from WordNet noun synsets.

        Each class hangs as its own leaf under the node of its synset, so a
        class whose synset is an ancestor of another class's synset (shirt and
        T-shirt) is still a leaf. The inner nodes are WordNet synset names
        (``"dog.n.01"``); :meth:`name` gives their first lemma.

        Parameters
        ----------
        synsets : mapping
            ``{label: synset}``, the synset given as a name (``"dog.n.01"``),
            an ImageNet-style wnid (``"n02084071"``) or an nltk ``Synset``.
        mode : {"tree", "dag"}, default="tree"
            ``"tree"`` keeps one hypernym per synset: the one on its longest
            path to the root (ties broken by the smaller synset name), so the
            result is a tree and does not depend on nltk's path order.
            ``"dag"`` keeps every hypernym (and instance hypernym).
        names : mapping, default=None
            Names of the class labels; default ``str(label)``.
        wordnet : WordNetCorpusReader or path-like, default=None
            The WordNet to use; ``None`` finds one with
            :func:`~sklhash.similarity.load_wordnet`.

        Returns
        -------
        LabelHierarchy

        Examples
        --------
        >>> h = LabelHierarchy.from_wordnet({"dog": "dog.n.01", "cat": "n02121620"})
        >>> h.lcs("dog", "cat"), h.name("carnivore.n.01")
        ('carnivore.n.01', 'carnivore')
        """
        from ._wordnet import wordnet_parent_map

        parents, node_names = wordnet_parent_map(synsets, mode=mode, wordnet=wordnet)
        if names is not None:
            for label, name in dict(names).items():
                if label not in synsets:
                    raise ValueError(f"names refers to unknown label {label!r}.")
                node_names[label] = name
        return cls(parents, classes=list(synsets), names=node_names)

    # -------------------------------------------------------------- structure
    @property
    def classes(self):
        """The classes (leaves), in label order."""
        return list(self._classes)

    @property
    def nodes(self):
        """Every node, parents before children."""
        return list(self._nodes)

    @property
    def max_height(self):
        """Height of the highest node (a leaf has height 0)."""
        return self._max_height

    @property
    def roots(self):
        """Nodes without parents."""
        return [n for n in self._nodes if not self._parents[n]]

    @property
    def is_tree(self):
        """Whether every node has at most one parent and there is one root."""
        return len(self.roots) == 1 and all(len(p) <= 1 for p in self._parents.values())

    def __len__(self):
        return len(self._nodes)

    def __contains__(self, node):
        try:
            return node in self._index
        except TypeError:
            return False

    def __repr__(self):
        return (
            f"LabelHierarchy(n_classes={len(self._classes)}, "
            f"n_nodes={len(self._nodes)}, "
            f"max_height={self._max_height}, tree={self.is_tree})"
        )

    def _check(self, node):
        try:
            known = node in self._index
        except TypeError:
            known = False
        if not known:
            raise ValueError(f"label {node!r} is not in the hierarchy.")

    def parents(self, node):
        """The parents of ``node`` (a list, empty for a root).

        Parameters
        ----------
        node : hashable
            A node of the hierarchy.

        Returns
        -------
        list
            Empty for a root.
        """
        self._check(node)
        return list(self._parents[node])

    def children(self, node):
        """The children of ``node`` (a list, empty for a leaf).

        Parameters
        ----------
        node : hashable
            A node of the hierarchy.

        Returns
        -------
        list
            Empty for a leaf.
        """
        self._check(node)
        return list(self._children[node])

    def ancestors(self, node):
        """``node`` and all its ancestors (a set).

        Parameters
        ----------
        node : hashable
            A node of the hierarchy.

        Returns
        -------
        set
            Includes ``node`` itself.
        """
        self._check(node)
        return set(self._ancestors(node))

    def _ancestors(self, node):
        anc = self._ancestor_cache.get(node)
        if anc is None:
            anc = {node}
            for p in self._parents[node]:
                anc |= self._ancestors(p)
            anc = frozenset(anc)
            self._ancestor_cache[node] = anc
        return anc

    def height(self, node):
        """Longest path from ``node`` down to a leaf (0 for a leaf).

        Parameters
        ----------
        node : hashable
            A node of the hierarchy.

        Returns
        -------
        int
            The length of that path.
        """
        self._check(node)
        return self._height[node]

    def depth(self, node):
        """Longest path from a root down to ``node`` (0 for a root).

        Parameters
        ----------
        node : hashable
            A node of the hierarchy.

        Returns
        -------
        int
            The length of that path.
        """
        self._check(node)
        return self._depth[node]

    def name(self, node):
        """A human-readable name of ``node`` (``str(node)`` if none was given).

        Parameters
        ----------
        node : hashable
            A node of the hierarchy.

        Returns
        -------
        str
            The name.
        """
        self._check(node)
        return self._names.get(node, str(node))

    # ------------------------------------------------------------- similarity
    def _rank_key(self, node):
        # The lcs is the deepest common ancestor; ties (only in DAGs) go to the
        # lower node, then to the one listed first, so the choice is stable.
        return (-self._depth[node], self._height[node], self._index[node])

    def lcs(self, a, b):
        """Lowest common subsumer: the deepest common ancestor of ``a`` and ``b``.

        A node counts as its own ancestor. In a DAG, equally deep common
        ancestors are ranked by height (lower first), then by node order.

        Parameters
        ----------
        a, b : hashable
            Nodes of the hierarchy.

        Returns
        -------
        hashable or None
            The lcs node; ``None`` when ``a`` and ``b`` share no ancestor (a
            forest with several roots).

        Examples
        --------
        >>> h = LabelHierarchy.from_parent_map({"cat": "pet", "dog": "pet"})
        >>> h.lcs("cat", "dog"), h.lcs("cat", "cat")
        ('pet', 'cat')
        """
        self._check(a)
        self._check(b)
        common = self._ancestors(a) & self._ancestors(b)
        if not common:
            return None
        return min(common, key=self._rank_key)

    def _pair_similarity(self, a, b, lcs, kind):
        if lcs is None:
            return 0.0
        if kind == "height":
            if self._max_height == 0:
                return 1.0
            return 1.0 - self._height[lcs] / self._max_height
        # Wu & Palmer with nltk's convention that a root has depth 1
        return 2.0 * (self._depth[lcs] + 1) / (self._depth[a] + self._depth[b] + 2)

    def _check_kind(self, kind):
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}.")

    def similarity(self, a, b, kind="height"):
        """Semantic similarity of two labels, in [0, 1].

        Parameters
        ----------
        a, b : hashable
            Nodes of the hierarchy (normally classes).
        kind : {"height", "wu_palmer"}, default="height"
            ``"height"``: ``1 - height(lcs) / max_height`` (Barz & Denzler);
            ``"wu_palmer"``: ``2 d(lcs) / (d(a) + d(b))`` with ``d`` = depth + 1.
            Labels without a common ancestor have similarity 0.

        Returns
        -------
        float
            The similarity.
        """
        self._check_kind(kind)
        return float(self._pair_similarity(a, b, self.lcs(a, b), kind))

    def similarity_matrix(self, labels=None, kind="height"):
        """Pairwise similarities of ``labels`` (default: :attr:`classes`).

        Parameters
        ----------
        labels : sequence, default=None
            Nodes, in the order of the rows and columns.
        kind : {"height", "wu_palmer"}, default="height"
            See :meth:`similarity`.

        Returns
        -------
        ndarray of shape (len(labels), len(labels)), dtype float64
            Symmetric; 1 on the diagonal for leaves.
        """
        self._check_kind(kind)
        labels = self._classes if labels is None else _as_list(labels)
        for lab in labels:
            self._check(lab)
        n = len(labels)
        # For every pair keep the best-ranked common ancestor: visit the
        # ancestors from worst to best rank and overwrite the pairs below each.
        below = {}
        for i, lab in enumerate(labels):
            for anc in self._ancestors(lab):
                below.setdefault(anc, []).append(i)
        lcs_rank = np.full((n, n), -1, dtype=np.int64)
        ranked = sorted(below, key=self._rank_key, reverse=True)
        for r, anc in enumerate(ranked):
            idx = np.asarray(below[anc], dtype=np.intp)
            lcs_rank[np.ix_(idx, idx)] = r
        sim_of_rank = np.empty(len(ranked) + 1)
        sim_of_rank[-1] = 0.0  # rank -1: no common ancestor
        if kind == "height":
            heights = np.array([self._height[a] for a in ranked], dtype=float)
            sim_of_rank[:-1] = (
                1.0 - heights / self._max_height if self._max_height else 1.0
            )
            S = sim_of_rank[lcs_rank]
        else:
            d_lcs = np.array([self._depth[a] + 1 for a in ranked] + [0], dtype=float)
            d = np.array([self._depth[lab] + 1 for lab in labels], dtype=float)
            S = 2.0 * d_lcs[lcs_rank] / (d[:, None] + d[None, :])
        return S

    def distance_matrix(self, labels=None, kind="height"):
        """``1 - similarity_matrix(labels, kind)``.

        Parameters
        ----------
        labels : sequence, default=None
            Nodes, in the order of the rows and columns (default: classes).
        kind : {"height", "wu_palmer"}, default="height"
            See :meth:`similarity`.

        Returns
        -------
        ndarray of shape (len(labels), len(labels)), dtype float64
            Symmetric, in [0, 1], 0 on the diagonal for leaves.
        """
        return 1.0 - self.similarity_matrix(labels, kind=kind)

    # ---------------------------------------------------------- serialisation
    def to_dict(self):
        """A JSON-ready description (int and str nodes keep their type).

        Returns
        -------
        dict
            Nodes, edges (index pairs), classes and names; extra keys are
            ignored by :meth:`from_dict`.

        Examples
        --------
        >>> h = LabelHierarchy.from_parent_map({0: "a", 1: "a"}, names={0: "zero"})
        >>> LabelHierarchy.from_dict(h.to_dict()).name(0)
        'zero'
        """
        nodes = [_json_label(n) for n in self._nodes]
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "nodes": nodes,
            "edges": [
                [self._index[p], self._index[c]]
                for c in self._nodes
                for p in self._parents[c]
            ],
            "classes": [self._index[c] for c in self._classes],
            "names": {str(self._index[n]): name for n, name in self._names.items()},
        }

    @classmethod
    def from_dict(cls, data):
        """Rebuild a hierarchy from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict
            The output of :meth:`to_dict` (possibly through JSON).

        Returns
        -------
        LabelHierarchy
        """
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise ValueError(
                f"not a LabelHierarchy description (expected format {_FORMAT!r})."
            )
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"unsupported LabelHierarchy format version {data.get('version')!r}."
            )
        # Checked strictly, not trusted: a negative or boolean index would
        # silently pick another node (Python's -1 is the last one), a string
        # of nodes would be iterated character by character.
        for key in ("nodes", "edges", "classes"):
            if not isinstance(data.get(key), list):
                raise ValueError(
                    f"corrupt LabelHierarchy description: {key!r} must be a list, "
                    f"got {type(data.get(key)).__name__}."
                )
        nodes = data["nodes"]
        for node in nodes:
            if isinstance(node, bool) or not isinstance(node, (int, str)):
                raise ValueError(
                    "corrupt LabelHierarchy description: nodes must be int or str, "
                    f"got {node!r}."
                )
        if len(set(nodes)) != len(nodes):
            raise ValueError("corrupt LabelHierarchy description: repeated nodes.")
        n = len(nodes)
        parents = {node: [] for node in nodes}
        for edge in data["edges"]:
            if not isinstance(edge, list) or len(edge) != 2:
                raise ValueError(
                    "corrupt LabelHierarchy description: an edge must be a "
                    f"[parent, child] pair of node indices, got {edge!r}."
                )
            p, c = (_node_index(i, n, "edges") for i in edge)
            parents[nodes[c]].append(nodes[p])
        classes = [nodes[_node_index(i, n, "classes")] for i in data["classes"]]
        raw_names = data.get("names", {})
        if not isinstance(raw_names, Mapping):
            raise ValueError(
                "corrupt LabelHierarchy description: 'names' must map node "
                f"indices to str, got {type(raw_names).__name__}."
            )
        names = {}
        for key, name in raw_names.items():
            is_index = isinstance(key, str) and key.isascii() and key.isdigit()
            if not is_index or not isinstance(name, str):
                raise ValueError(
                    "corrupt LabelHierarchy description: 'names' must map node "
                    f"indices to str, got {key!r}: {name!r}."
                )
            names[nodes[_node_index(int(key), n, "names")]] = name
        return cls(parents, classes=classes, names=names)

    def to_json(self, path):
        """Write :meth:`to_dict` to ``path`` as JSON.

        Parameters
        ----------
        path : path-like
            The file to write.
        """
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1, ensure_ascii=False)
            f.write("\n")

    @classmethod
    def from_json(cls, path):
        """Read a hierarchy written by :meth:`to_json`.

        Parameters
        ----------
        path : path-like
            The JSON file.

        Returns
        -------
        LabelHierarchy
        """
        try:
            # A device or FIFO is not a hierarchy file (/dev/zero never ends,
            # opening a FIFO blocks): only a regular file is opened.
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise ValueError(f"{path} is not a regular file.")
            with open(path, "rb") as f:
                raw = f.read(_MAX_JSON_BYTES + 1)
        except OSError as exc:
            raise ValueError(
                f"Cannot read the hierarchy file {path}: {exc.strerror or exc}"
            ) from exc
        if len(raw) > _MAX_JSON_BYTES:
            raise ValueError(
                f"{path}: larger than {_MAX_JSON_BYTES} bytes, not a hierarchy file."
            )
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not valid JSON ({exc}).") from exc
        except RecursionError as exc:  # "[[[[..." nested beyond the stack
            raise ValueError(f"{path}: JSON nested too deeply.") from exc
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc


def _node_index(i, n, what):
    """``i`` as an index into the n nodes of a description, or a ValueError."""
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
        raise ValueError(
            f"corrupt LabelHierarchy description: {what} holds {i!r}, not a node "
            f"index in 0..{n - 1}."
        )
    return i


def _find_cycle(parents):
    """A cycle in the child -> parents graph, written ``a -> b -> ... -> a``."""
    state = {}  # 1: on the current path, 2: done
    for start in parents:
        if state.get(start):
            continue
        path, iters = [start], [iter(parents[start])]
        state[start] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                return " -> ".join(repr(n) for n in cycle)
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(parents[nxt]))
    return "?"
