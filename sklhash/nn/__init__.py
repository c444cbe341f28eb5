"""Pure PyTorch building blocks: backbones, heads, losses, sorting, rotations.

Nothing here imports scikit-learn; the estimators in :mod:`sklhash.hashers`
glue these modules to the scikit-learn API. Import the submodules directly
(``from sklhash.nn.losses import ...``); this package re-exports nothing so
that importing one piece does not import the others.
"""
