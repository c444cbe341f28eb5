"""The shipped WordNet class hierarchies of Fashion-MNIST, CIFAR-100 and ImageNet.

The JSON files in ``data/`` were generated from WordNet 3.0 by
``maintenance/build_hierarchies.py`` in the source tree (which documents
every synset choice), so no WordNet install is needed to use them. Leaves are the
integer class ids of the dataset; ``h.name(node)`` gives readable names and
``h.parents(class_id)[0]`` the class's WordNet synset.
"""

import functools
from pathlib import Path

from ..similarity import LabelHierarchy
from ._base import get_data_home

_DATA_DIR = Path(__file__).parent / "data"


@functools.lru_cache(maxsize=None)
def _load(path):
    return LabelHierarchy.from_json(path)


def fashion_mnist_hierarchy():
    """The WordNet hierarchy of the 10 Fashion-MNIST classes.

    Leaves are the labels 0..9 in the standard order (T-shirt/top, Trouser,
    Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot). The
    garments meet at ``garment.n.01`` (Dress, a ``woman's_clothing``, at
    ``clothing.n.01``), the shoes at ``footwear.n.02``, and garments, shoes
    and the bag only at ``artifact.n.01``; T-shirt/top sits under Shirt's
    synset, so that pair is the most similar.

    Returns
    -------
    LabelHierarchy
        Leaves 0..9; inner nodes are WordNet synset names.

    See Also
    --------
    load_fashion_mnist : The images, with this hierarchy as ``hierarchy``.

    Examples
    --------
    >>> from sklhash.datasets import fashion_mnist_hierarchy
    >>> h = fashion_mnist_hierarchy()
    >>> h.classes
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    >>> h.name(0), h.name(h.lcs(0, 6)), h.name(h.lcs(5, 7))
    ('T-shirt/top', 'shirt', 'shoe')
    """
    return _load(_DATA_DIR / "fashion_mnist_hierarchy.json")


def cifar100_hierarchy():
    """The WordNet hierarchy of the 100 CIFAR-100 fine classes.

    Leaves are the fine labels 0..99 in the order of CIFAR-100's ``meta``
    file (apple, aquarium_fish, baby, ...); the tree is rooted at
    ``entity.n.01``. The synset chosen for each class is listed, with the
    reason where it is not the first sense, in
    ``maintenance/build_hierarchies.py`` (source tree).

    Returns
    -------
    LabelHierarchy
        Leaves 0..99; inner nodes are WordNet synset names.

    See Also
    --------
    load_cifar100 : The images, with this hierarchy as ``hierarchy``.

    Examples
    --------
    >>> from sklhash.datasets import cifar100_hierarchy
    >>> h = cifar100_hierarchy()
    >>> len(h.classes), h.roots
    (100, ['entity.n.01'])
    >>> h.name(3), h.name(97), h.lcs(3, 97)
    ('bear', 'wolf', 'carnivore.n.01')
    """
    return _load(_DATA_DIR / "cifar100_hierarchy.json")


def imagenet_hierarchy(path=None):
    """The WordNet hierarchy of the 1000 ImageNet-1k (ILSVRC-2012) classes.

    Leaves are the class ids 0..999 in sorted-wnid order (the order of
    torchvision's ``ImageFolder`` on the ILSVRC train folder and of the
    devkit); each class hangs under its synset, and each synset keeps the
    hypernym on its longest path to ``entity.n.01`` (ties by name), so the
    result is a tree of height 19. The shipped file was generated from the
    1000 wnids in ``maintenance/imagenet_wnids.txt`` of the source tree by
    ``python maintenance/build_hierarchies.py``. Compared with the tree
    Barz & Denzler (2019) trained and evaluated with, 94 % of class pairs
    share the same lowest common subsumer and the class-pair similarities
    correlate at 0.97 (``maintenance/compare_imagenet_hierarchy.py``;
    ``docs/zero_shot.md``).

    Parameters
    ----------
    path : path-like, default=None
        Another JSON file (e.g. built from another wnid list). ``None`` uses
        the shipped file, then :func:`get_data_home`.

    Returns
    -------
    LabelHierarchy
        Leaves 0..999; inner nodes are WordNet synset names.

    Raises
    ------
    ValueError
        When ``path`` does not exist (the message names where it was looked
        for and the command that makes a file).

    See Also
    --------
    load_image_folder : ImageNet-style class folders.

    Examples
    --------
    >>> from sklhash.datasets import imagenet_hierarchy
    >>> h = imagenet_hierarchy()
    >>> len(h.classes), h.max_height
    (1000, 19)
    >>> h.name(207)
    'golden retriever'
    """
    name = "imagenet_hierarchy.json"
    candidates = (
        [Path(path).expanduser()]
        if path is not None
        else [_DATA_DIR / name, get_data_home() / name]
    )
    for candidate in candidates:
        if candidate.is_file():
            return _load(candidate.resolve())
    looked = "\n".join(f"  - {c}" for c in candidates)
    raise ValueError(
        f"ImageNet hierarchy file {name} not found. Looked in:\n{looked}\n"
        "Make it from the list of the 1000 ILSVRC-2012 wnids (e.g. the devkit's "
        "LOC_synset_mapping.txt, or an ImageNet train folder) with\n"
        "  python maintenance/build_hierarchies.py --imagenet-wnids FILE "
        f"--out {get_data_home()}\n(WordNet 3.0 needed, see "
        "sklhash.similarity.load_wordnet)."
    )
