"""Small constructor arguments for the common tests, one entry per hasher.

Like imbalanced-learn's ``instance_generator``: ``tests/test_common.py``
builds every hasher of :func:`sklhash.all_hashers` with these arguments, so
the scikit-learn checks stay fast (tiny codes, one or two epochs). A new
hasher adds its entry here; expected failures go in ``EXPECTED_FAILED_CHECKS``
with the reason.
"""

INIT_PARAMS = {
    "LSHHasher": {"bits": 5, "random_state": 0},
    "PCAHasher": {"bits": 1},
    "ITQHasher": {"bits": 1, "n_iter": 5, "random_state": 0},
    "SpectralHasher": {"bits": 5},
    "HouseholderQuantizer": {"max_epochs": 2, "random_state": 0},
    "DPSHHasher": {"bits": 5, "hidden_layer_sizes": (16,), "max_epochs": 1,
                   "random_state": 0},
    "HashNetHasher": {"bits": 5, "hidden_layer_sizes": (16,), "max_epochs": 1,
                      "random_state": 0},
    "CSQHasher": {"bits": 5, "hidden_layer_sizes": (16,), "max_epochs": 1,
                  "random_state": 0},
    "NSHasher": {"bits": 5, "latent_dim": 8, "hidden_layer_sizes": (16,),
                 "max_epochs": 1, "batch_size": 16, "random_state": 0},
    "CIBHasher": {"bits": 5, "hidden_layer_sizes": (16,), "max_epochs": 1,
                  "batch_size": 16, "random_state": 0},
    "SemanticKLHasher": {"bits": 5, "hidden_layer_sizes": (16,), "max_epochs": 1,
                         "random_state": 0},
}

# {hasher name: {check name: reason}}
EXPECTED_FAILED_CHECKS = {}


def instances():
    """One small instance of every hasher."""
    from .discovery import all_hashers

    return [cls(**INIT_PARAMS.get(name, {})) for name, cls in all_hashers()]


def expected_failed_checks(estimator):
    """The checks ``estimator`` is known to fail, with reasons."""
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def torch_hashers():
    """(name, class) of every hasher trained with torch.

    They are the ones with a ``device`` parameter.
    """
    from .discovery import all_hashers

    return [
        (name, cls)
        for name, cls in all_hashers()
        if "device" in cls(**INIT_PARAMS.get(name, {})).get_params()
    ]


def fit_small(name, cls, X, y, **params):
    """``cls`` built from its ``INIT_PARAMS`` (updated with ``params``) and
    fitted on ``X``, with ``y`` when its tags require labels."""
    est = cls(**{**INIT_PARAMS.get(name, {}), **params})
    if est.__sklearn_tags__().target_tags.required:
        return est.fit(X, y)
    return est.fit(X)
