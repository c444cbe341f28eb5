"""Dataset loaders for the published formats, shipped hierarchies, generators.

Nothing here downloads: each loader reads files already on disk (a Debian
package, or files fetched by hand) and says where it looked and how to get
them when they are missing. Every loader returns a scikit-learn
:class:`~sklearn.utils.Bunch` and accepts ``return_X_y=True``.
"""

from sklearn.datasets import load_digits

from .._lazy import lazy_getattr
from ._base import get_data_home
from ._captions import load_conceptual_captions
from ._cifar import load_cifar100
from ._fashion_mnist import load_fashion_mnist, read_idx
from ._image_folder import LazyImageArray, load_image_folder
from ._synthetic import make_hierarchical_blobs

# Written in sibling modules that need WordNet / JSON data; imported on first
# use so that this package imports (and stays light) without them.
_LAZY = {
    "fashion_mnist_hierarchy": "sklhash.datasets._hierarchies",
    "cifar100_hierarchy": "sklhash.datasets._hierarchies",
    "imagenet_hierarchy": "sklhash.datasets._hierarchies",
    "load_wordnet_glosses": "sklhash.datasets._wordnet_glosses",
    "load_wordnet_gloss_embeddings": "sklhash.datasets._gloss_corpus",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "LazyImageArray",
    "get_data_home",
    "load_cifar100",
    "load_conceptual_captions",
    "load_digits",
    "load_fashion_mnist",
    "load_image_folder",
    "make_hierarchical_blobs",
    "read_idx",
    *_LAZY,
]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
