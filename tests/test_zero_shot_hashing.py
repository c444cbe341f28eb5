"""Hashers trained on seen classes encode unseen ones; feature-anchored targets."""

import numpy as np
import pytest
import torch

from sklhash import SemanticKLHasher
from sklhash.datasets import make_hierarchical_blobs
from sklhash.model_selection import unseen_class_split
from sklhash.nn.losses import relative_similarity_loss
from sklhash.nn.semantic_kl import SemanticKLLoss


@pytest.fixture(scope="module")
def blobs():
    X, y, h = make_hierarchical_blobs(
        540, 12, depth=2, branching=3, noise=0.6, random_state=0)
    return X.astype(np.float32), np.asarray(y), h


@pytest.mark.parametrize("w", [0.0, 0.3, 1.0])
def test_feature_weight_mixes_input_cosine_into_the_targets(w):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(6, 5, generator=g)
    u = torch.tanh(torch.randn(6, 8, generator=g))
    y = torch.tensor([0, 1, 0, 2, 1, 2])
    S = torch.tensor([[1.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.0]])
    crit = SemanticKLLoss("class", target_similarity=S, quantization=None,
                          feature_weight=w)
    Xn = torch.nn.functional.normalize(X, dim=1)
    expected_S = (1 - w) * S[y][:, y] + w * (Xn @ Xn.T).clamp_min(0)
    got = crit((u, u[:, :0]), {"X": X, "y": y})
    torch.testing.assert_close(got, relative_similarity_loss(u, expected_S))


@pytest.mark.parametrize(
    "params",
    [{}, {"feature_weight": 0.7}, {"hierarchy": "h", "feature_weight": 0.7},
     {"hierarchy": "h", "ce_weight": 0.0}],
)
def test_fitted_on_seen_classes_encodes_unseen_items(blobs, params):
    X, y, h = blobs
    params = {k: (h if v == "h" else v) for k, v in params.items()}
    split = unseen_class_split(y, n_queries_per_class=5, random_state=0)
    est = SemanticKLHasher(bits=12, max_epochs=2, random_state=0, **params)
    est.fit(X[split.train], y[split.train])
    # The CE head knows only the seen classes; encoding needs no label.
    assert set(est.classes_) == set(split.seen_classes)
    codes = est.transform(X[split.query])
    assert codes.shape == (len(split.query), 2) and codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, est.transform(X[split.query]))


def test_hierarchy_must_cover_the_labels(blobs):
    X, y, h = blobs
    with pytest.raises(ValueError, match="999"):
        SemanticKLHasher(bits=8, max_epochs=1, hierarchy=h).fit(
            X[:20], np.r_[y[:19], 999])


@pytest.mark.parametrize("w", [-0.1, 1.5])
def test_feature_weight_out_of_range(blobs, w):
    X, y, _ = blobs
    with pytest.raises(ValueError, match="feature_weight"):
        SemanticKLHasher(bits=8, feature_weight=w).fit(X[:20], y[:20])
