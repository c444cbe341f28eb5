"""Evaluation protocols for hashing: zero-shot (unseen-class) splits."""

from ._zero_shot import ZeroShotSplit, leave_one_class_out, unseen_class_split

__all__ = ["ZeroShotSplit", "leave_one_class_out", "unseen_class_split"]
