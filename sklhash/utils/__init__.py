"""Utilities: estimator discovery and testing helpers."""

from .discovery import all_hashers

__all__ = ["all_hashers"]
