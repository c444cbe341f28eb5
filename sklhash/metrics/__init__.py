"""Retrieval metrics with exact tie handling, and scikit-learn scorers.

Hamming rankings are full of ties. Every metric here is defined once, with
``ties="average"`` (default) giving the exact expected value under a uniformly
random order inside each tie, and ``"optimistic"``, ``"pessimistic"`` and
``"index"`` (stable database order) as alternatives. All functions take packed
codes (Hamming distance) or float embeddings (``metric="euclidean"`` or
``"cosine"``), work in query chunks (memory ``O(chunk_size * n_db)``) and never
modify their inputs. See ``docs/metrics.md`` for the definitions.
"""

from ._hierarchical import mean_average_hierarchical_precision
from ._ranking import (
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    precision_recall_at_radius,
    precision_recall_curve,
)
from ._recall import exact_neighbors, recall_at_k, recall_scorer
from ._scorer import mahp_scorer, make_retrieval_scorer, map_scorer

__all__ = [
    "mean_average_precision",
    "precision_at_k",
    "precision_recall_at_radius",
    "precision_recall_curve",
    "ndcg_at_k",
    "mean_average_hierarchical_precision",
    "map_scorer",
    "mahp_scorer",
    "make_retrieval_scorer",
    "exact_neighbors",
    "recall_at_k",
    "recall_scorer",
]
