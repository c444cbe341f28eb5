"""Utilities: hasher discovery and the checks hasher authors run.

:func:`all_hashers` lists sklhash's hashers (from the table in
``sklhash/_registry.py``); :mod:`sklhash.utils.estimator_checks` holds the
hasher contract checks and a ``parametrize_with_checks`` for test suites.
"""

from .discovery import all_hashers

__all__ = ["all_hashers"]
