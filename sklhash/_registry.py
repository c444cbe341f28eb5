"""The one table of sklhash's hashers.

Everything that lists hashers is derived from :data:`HASHERS`: the lazy
exports of :mod:`sklhash` and :mod:`sklhash.hashers`,
:func:`sklhash.utils.discovery.all_hashers`, the method names of the
``sklhash`` command and of :mod:`sklhash.benchmark`, and the parameter
table of the common tests (``tests/test_common.py``, which also checks that
no public hasher class is missing here). Adding a hasher means one row here
plus its own module and tests.

The table names classes by module path, so reading it imports neither
torch nor the hashers' modules.
"""

import importlib
from dataclasses import dataclass, field

__all__ = ["HASHERS", "HasherSpec", "Build", "by_method", "by_name"]


class Build:
    """A test parameter built when the test instance is made, not at import.

    Parameters whose value is an object that needs heavier imports (a
    :class:`~sklhash.similarity.LabelHierarchy`) are written as
    ``Build(function)``; the test harness calls it.
    """

    def __init__(self, function):
        self.function = function

    def __call__(self):
        return self.function()

    def __repr__(self):
        return f"Build({self.function.__name__})"


def _toy_hierarchy():
    # Two coarse groups over the four classes of the common tests' toy
    # labels (0..3), so hierarchy-based targets are exercised.
    from .similarity import LabelHierarchy

    return LabelHierarchy.from_parent_map(
        {0: "low", 1: "low", 2: "high", 3: "high", "low": "root", "high": "root"},
        classes=[0, 1, 2, 3],
    )


_DEEP_TEST = {"hidden_layer_sizes": (16,), "max_epochs": 1, "random_state": 0}
_TORCH = ("torch",)


@dataclass(frozen=True)
class HasherSpec:
    """One row of the hasher table.

    Parameters
    ----------
    name : str
        Class name, exported from :mod:`sklhash`.
    module : str
        Module that defines the class (``sklhash.hashers.<method>``).
    supervision : {"unsupervised", "supervised"}
        Whether ``fit`` needs labels (checked against the class's tags by
        the common tests).
    method : str
        Name in the ``sklhash`` command and :mod:`sklhash.benchmark`.
    description : str
        One line for listings.
    benchmark_params : dict
        Fixed constructor arguments of the benchmark method (beyond
        ``bits``, ``random_state``, ``device``, ``max_epochs`` and
        ``hierarchy``, which are passed where the class takes them).
    test_params : tuple of dict
        Small constructor arguments for the common tests, one instance per
        dict. The first runs scikit-learn's full estimator checks; every
        one runs sklhash's hasher checks, so non-default code paths
        (``hierarchy=...``, ``quantization="householder"``,
        ``backbone="cnn"``) are covered too.
    expected_failed_checks : dict
        ``{check name: reason}`` of scikit-learn checks the class is known
        to fail.
    requires : tuple of str
        Libraries ``fit`` needs beyond sklhash's requirements (torch is left
        to the user); the command line and the benchmark check them before
        any work starts.
    """

    name: str
    module: str
    supervision: str
    method: str
    description: str
    benchmark_params: dict = field(default_factory=dict)
    test_params: tuple = ({},)
    expected_failed_checks: dict = field(default_factory=dict)
    requires: tuple = ()

    def load(self):
        """Import and return the class."""
        return getattr(importlib.import_module(self.module), self.name)


_CLASSIC = "sklhash.hashers.classic"
_SUPERVISED = "sklhash.hashers.supervised"
_EMBEDDING = "sklhash.hashers.embedding"

#: Every public hasher, in the order of the benchmark tables.
HASHERS = (
    HasherSpec(
        "LSHHasher", _CLASSIC, "unsupervised", "lsh", "random hyperplanes",
        test_params=({"bits": 5, "random_state": 0},),
    ),
    HasherSpec(
        "PCAHasher", _CLASSIC, "unsupervised", "pcah", "sign of PCA",
        test_params=({"bits": 1},),
    ),
    HasherSpec(
        "ITQHasher", _CLASSIC, "unsupervised", "itq",
        "PCA + iterative quantisation",
        test_params=({"bits": 1, "n_iter": 5, "random_state": 0},),
    ),
    HasherSpec(
        "SpectralHasher", _CLASSIC, "unsupervised", "sh", "spectral hashing",
        test_params=({"bits": 5},),
    ),
    HasherSpec(
        "SignHasher", _EMBEDDING, "unsupervised", "sign",
        "sign at 0 (quantize_embeddings 'ubinary')",
        test_params=({}, {"bits": 1}),
    ),
    HasherSpec(
        "CenteredSignHasher", _EMBEDDING, "unsupervised", "centered-sign",
        "sign of the centred input", test_params=({}, {"bits": 1}),
    ),
    HasherSpec(
        "EmbeddingHasher", _EMBEDDING, "unsupervised", "embedding",
        "centring + PCA + ITQ rotation, for embeddings",
        test_params=({"bits": 1, "n_iter": 5, "random_state": 0},
                     {"bits": 1, "max_fit_samples": 3, "random_state": 0}),
    ),
    HasherSpec(
        "HouseholderQuantizer", "sklhash.hashers.householder", "unsupervised",
        "pca-householder", "PCA + Householder quantiser",
        benchmark_params={"projection": "pca"},
        test_params=(
            {"max_epochs": 2, "random_state": 0},
            {"bits": 5, "projection": "pca", "max_epochs": 2, "random_state": 0},
        ),
        requires=_TORCH,
    ),
    HasherSpec(
        "NSHasher", "sklhash.hashers.nsh", "unsupervised", "nsh",
        "naturally-sorted hashing",
        test_params=(
            {"bits": 5, "latent_dim": 8, "batch_size": 16, **_DEEP_TEST},
            {"bits": 5, "latent_dim": 8, "batch_size": 16, "code_source": "head",
             **_DEEP_TEST},
        ),
        requires=_TORCH,
    ),
    HasherSpec(
        "CIBHasher", "sklhash.hashers.cibhash", "unsupervised", "cibhash",
        "CIBHash",
        test_params=({"bits": 5, "batch_size": 16, **_DEEP_TEST},),
        requires=_TORCH,
    ),
    HasherSpec(
        "DPSHHasher", _SUPERVISED, "supervised", "dpsh", "DPSH",
        test_params=(
            {"bits": 5, **_DEEP_TEST},
            {"bits": 5, "backbone": "cnn", **_DEEP_TEST},
        ),
        requires=_TORCH,
    ),
    HasherSpec(
        "HashNetHasher", _SUPERVISED, "supervised", "hashnet", "HashNet",
        test_params=({"bits": 5, **_DEEP_TEST},),
        requires=_TORCH,
    ),
    HasherSpec(
        "CSQHasher", _SUPERVISED, "supervised", "csq", "CSQ",
        test_params=(
            {"bits": 5, **_DEEP_TEST},
            {"bits": 5, "quantization": "householder", **_DEEP_TEST},
        ),
        requires=_TORCH,
    ),
    HasherSpec(
        "SemanticKLHasher", "sklhash.hashers.semantic_kl", "supervised",
        "semantic-kl", "semantic similarity + KL",
        test_params=(
            {"bits": 5, **_DEEP_TEST},
            {"bits": 5, "hierarchy": Build(_toy_hierarchy), **_DEEP_TEST},
            {"bits": 5, "quantization": "householder", **_DEEP_TEST},
        ),
        requires=_TORCH,
    ),
)


def by_name(name):
    """The row of class ``name``; ``KeyError`` if there is none."""
    for spec in HASHERS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def by_method(method):
    """The row of benchmark/CLI method ``method``.

    Raises
    ------
    ValueError
        Naming the unknown method and the known ones.
    """
    for spec in HASHERS:
        if spec.method == method:
            return spec
    raise ValueError(
        f"method={method!r} is unknown; choose from "
        f"{', '.join(s.method for s in HASHERS)}."
    )
