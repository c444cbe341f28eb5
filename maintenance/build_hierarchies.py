"""Regenerate the shipped WordNet hierarchies in ``sklhash/datasets/data/``.

A maintenance script of the source tree, not part of the installed package
(the shipped hierarchies need neither it nor nltk). Run it from a checkout
with the ``wordnet`` extra installed (``pip install -e ".[wordnet]"``) and
WordNet 3.0 available (see :func:`sklhash.similarity.load_wordnet`)::

    python maintenance/build_hierarchies.py

``--check`` compares with the shipped files instead of writing. ImageNet-1k's
1000 class wnids do not come with WordNet: ``maintenance/imagenet_wnids.txt``
holds them (ILSVRC-2012's classes in sorted-wnid order, each with its lemmas,
taken from the ``timm`` wheel's ``data/_info/imagenet_synsets.txt`` and
``imagenet_synset_to_lemma.txt``; ``pip download --no-deps timm`` fetches it)
and is the default. Another list can be given::

    python maintenance/build_hierarchies.py --imagenet-wnids LOC_synset_mapping.txt

The list may be any text file whose lines start with a wnid (the ILSVRC-2012
devkit's ``LOC_synset_mapping.txt`` / ``synset_words.txt``; an optional class
name may follow the wnid), or an ImageNet ``train`` folder whose subfolders are
named by wnid. Class ids are the positions in sorted-wnid order, the order
used by torchvision's ``ImageFolder`` and the ILSVRC devkit.

How the trees are made (:meth:`LabelHierarchy.from_wordnet` with
``mode="tree"``): every class is a leaf hanging under its synset; each synset
keeps the one hypernym on its longest path to ``entity.n.01`` (ties: the
smaller synset name), so the result is a tree rooted at ``entity.n.01``.
"""

import argparse
import json
import re
import sys
from pathlib import Path

from sklhash.similarity import LabelHierarchy

# The package's data folder, next to this script in a source checkout.
IMAGENET_WNIDS = Path(__file__).resolve().parent / "imagenet_wnids.txt"
DATA_DIR = Path(__file__).resolve().parents[1] / "sklhash" / "datasets" / "data"

FILES = {
    "fashion_mnist": "fashion_mnist_hierarchy.json",
    "cifar100": "cifar100_hierarchy.json",
    "imagenet": "imagenet_hierarchy.json",
}

# Fashion-MNIST labels 0..9 (Xiao et al. 2017) -> WordNet 3.0 noun synsets.
FASHION_MNIST = [
    (
        "T-shirt/top",
        "jersey.n.03",
    ),  # "T-shirt, tee shirt": a close-fitting pullover shirt
    ("Trouser", "trouser.n.01"),
    (
        "Pullover",
        "sweater.n.01",
    ),  # sweater, jumper; pullover.n.01 would be one kind of it
    ("Dress", "dress.n.01"),  # a one-piece garment for a woman
    ("Coat", "coat.n.01"),
    ("Sandal", "sandal.n.01"),
    ("Shirt", "shirt.n.01"),  # the parent of jersey.n.03: T-shirt/top meets shirt here
    ("Sneaker", "gym_shoe.n.01"),  # sneaker, tennis shoe
    ("Bag", "bag.n.04"),  # handbag, purse: "container for money and personal items"
    ("Ankle boot", "boot.n.01"),  # WordNet has no ankle boot; boot covers foot and leg
]

# CIFAR-100 fine labels 0..99 (Krizhevsky 2009, the "meta" file's order) ->
# WordNet 3.0 noun synsets. The rule: the sense that matches the photographs
# (the animal, not its fur; the fruit, not its tree; the furniture, not the
# data table). Where the first sense is not that one, the comment says why.
CIFAR100 = [
    ("apple", "apple.n.01"),  # the fruit (the images), not apple.n.02 the tree
    (
        "aquarium_fish",
        "teleost_fish.n.01",
    ),  # no such synset; aquarium fishes are bony fishes of many families
    ("baby", "baby.n.01"),
    ("bear", "bear.n.01"),
    ("beaver", "beaver.n.07"),  # the rodent; n.01 is its fur
    ("bed", "bed.n.01"),
    ("bee", "bee.n.01"),
    ("beetle", "beetle.n.01"),
    ("bicycle", "bicycle.n.01"),
    ("bottle", "bottle.n.01"),
    ("bowl", "bowl.n.01"),  # the vessel
    ("boy", "male_child.n.01"),  # "a youthful male person" (boy.n.02 is a grown man)
    ("bridge", "bridge.n.01"),
    ("bus", "bus.n.01"),
    ("butterfly", "butterfly.n.01"),
    ("camel", "camel.n.01"),
    ("can", "can.n.01"),
    (
        "castle",
        "castle.n.02",
    ),  # the fortified building; castle.n.01 is a palace/mansion
    ("caterpillar", "caterpillar.n.01"),  # the larva, not the tracked vehicle
    ("cattle", "cattle.n.01"),
    ("chair", "chair.n.01"),
    ("chimpanzee", "chimpanzee.n.01"),
    ("clock", "clock.n.01"),
    ("cloud", "cloud.n.02"),  # the atmospheric cloud; n.01 is any particle cloud
    ("cockroach", "cockroach.n.01"),
    ("couch", "sofa.n.01"),  # couch's first sense
    ("crab", "crab.n.01"),
    ("crocodile", "crocodile.n.01"),
    ("cup", "cup.n.01"),
    ("dinosaur", "dinosaur.n.01"),
    ("dolphin", "dolphin.n.02"),  # the toothed whale; n.01 (dolphinfish) is a fish
    ("elephant", "elephant.n.01"),
    ("flatfish", "flatfish.n.02"),  # the fish; n.01 is its flesh
    ("forest", "forest.n.02"),  # "land covered with trees", next to plain.n.01
    ("fox", "fox.n.01"),
    ("girl", "female_child.n.01"),  # "a youthful female person", like boy
    ("hamster", "hamster.n.01"),
    ("house", "house.n.01"),
    ("kangaroo", "kangaroo.n.01"),
    ("keyboard", "keyboard.n.01"),  # keys of a piano or typewriter or computer
    (
        "lamp",
        "lamp.n.02",
    ),  # "furniture holding electric light bulbs": the table lamps shown
    ("lawn_mower", "lawn_mower.n.01"),
    ("leopard", "leopard.n.02"),  # the cat; n.01 is its pelt
    ("lion", "lion.n.01"),
    ("lizard", "lizard.n.01"),
    ("lobster", "lobster.n.02"),  # the animal; n.01 is its flesh
    ("man", "man.n.01"),
    ("maple_tree", "maple.n.02"),  # the tree; n.01 is its wood
    ("motorcycle", "motorcycle.n.01"),
    ("mountain", "mountain.n.01"),
    ("mouse", "mouse.n.01"),  # the rodent
    (
        "mushroom",
        "mushroom.n.02",
    ),  # fleshy fungi as organisms (the images are wild fungi)
    ("oak_tree", "oak.n.02"),  # the tree; n.01 is its wood
    ("orange", "orange.n.01"),  # the fruit
    ("orchid", "orchid.n.01"),
    ("otter", "otter.n.02"),  # the animal; n.01 is its fur
    ("palm_tree", "palm.n.03"),  # the tree; n.01 is part of the hand
    ("pear", "pear.n.01"),  # the fruit
    ("pickup_truck", "pickup.n.01"),
    ("pine_tree", "pine.n.01"),
    ("plain", "plain.n.01"),
    ("plate", "plate.n.04"),  # "dish on which food is served"
    ("poppy", "poppy.n.01"),
    ("porcupine", "porcupine.n.01"),
    ("possum", "opossum.n.02"),  # first sense of "possum"
    ("rabbit", "rabbit.n.01"),
    ("raccoon", "raccoon.n.02"),  # the animal; n.01 is its fur
    ("ray", "ray.n.07"),  # the cartilaginous fish
    ("road", "road.n.01"),
    ("rocket", "rocket.n.01"),  # the vehicle
    ("rose", "rose.n.01"),
    ("sea", "sea.n.01"),
    ("seal", "seal.n.09"),  # the marine mammal
    ("shark", "shark.n.01"),
    ("shrew", "shrew.n.02"),  # the mammal; n.01 is a scolding woman
    ("skunk", "skunk.n.04"),  # the mammal
    ("skyscraper", "skyscraper.n.01"),
    ("snail", "snail.n.01"),
    ("snake", "snake.n.01"),
    ("spider", "spider.n.01"),
    ("squirrel", "squirrel.n.01"),
    ("streetcar", "streetcar.n.01"),
    ("sunflower", "sunflower.n.01"),
    ("sweet_pepper", "sweet_pepper.n.02"),  # the bell-pepper fruit (n.01 is the plant)
    ("table", "table.n.02"),  # the furniture; n.01 is a data table
    ("tank", "tank.n.01"),  # the armoured vehicle
    ("telephone", "telephone.n.01"),
    ("television", "television_receiver.n.01"),  # the set, not broadcasting
    ("tiger", "tiger.n.02"),  # the cat; n.01 is a fierce person
    ("tractor", "tractor.n.01"),
    ("train", "train.n.01"),
    ("trout", "trout.n.02"),  # the fish; n.01 is its flesh
    ("tulip", "tulip.n.01"),
    ("turtle", "turtle.n.02"),  # the reptile; n.01 is a turtleneck
    ("wardrobe", "wardrobe.n.01"),  # the furniture
    ("whale", "whale.n.02"),  # the cetacean; n.01 is a giant person
    ("willow_tree", "willow.n.01"),
    ("wolf", "wolf.n.01"),
    ("woman", "woman.n.01"),
    ("worm", "worm.n.01"),
]

_WNID = re.compile(r"^n\d{8}$")


def read_wnids(source):
    """ImageNet class wnids and names from a list file or a class-folder tree.

    Returns ``[(wnid, name or None), ...]`` sorted by wnid.
    """
    source = Path(source)
    entries = {}
    if source.is_dir():
        for sub in source.iterdir():
            if sub.is_dir() and _WNID.match(sub.name):
                entries[sub.name] = None
    elif source.is_file():
        with open(source, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                wnid, _, name = line.partition(" ")
                if not _WNID.match(wnid):
                    raise ValueError(
                        f"{source}, line {lineno}: {wnid!r} is not a noun wnid "
                        "like 'n01440764'."
                    )
                if wnid in entries:
                    raise ValueError(f"{source}, line {lineno}: {wnid} is repeated.")
                entries[wnid] = name.strip() or None
    else:
        raise ValueError(f"ImageNet wnid list {source} does not exist.")
    if not entries:
        raise ValueError(f"no wnids found in {source}.")
    return sorted(entries.items())


def _describe(dataset, n):
    return (
        f"{dataset} class hierarchy generated from WordNet 3.0 by "
        "maintenance/build_hierarchies.py: leaves are the integer class ids "
        f"0..{n - 1}, each hung under its synset; each synset keeps the hypernym "
        "on its longest path to entity.n.01 (ties: smaller name). WordNet 3.0 "
        "Copyright 2006 by Princeton University, see WORDNET_LICENSE.txt."
    )


def build(dataset, *, wordnet=None, wnids=None):
    """The JSON-ready description of one shipped hierarchy.

    Parameters
    ----------
    dataset : {"fashion_mnist", "cifar100", "imagenet"}
    wordnet : WordNet reader or path, default=None
    wnids : path-like, default=None
        The ImageNet wnid list (required for ``"imagenet"``).

    Returns
    -------
    data : dict
        :meth:`LabelHierarchy.to_dict` plus a ``"meta"`` entry.
    """
    if dataset == "fashion_mnist":
        classes = FASHION_MNIST
    elif dataset == "cifar100":
        classes = CIFAR100
    elif dataset == "imagenet":
        if wnids is None:
            raise ValueError(
                "the ImageNet hierarchy needs the list of the 1000 class wnids "
                "(--imagenet-wnids FILE)."
            )
        from sklhash.similarity import load_wordnet, synset
        from sklhash.similarity._wordnet import synset_label

        wn = (
            load_wordnet(wordnet)
            if wordnet is None or not hasattr(wordnet, "synset")
            else wordnet
        )
        classes = [
            (name or synset_label(synset(wnid, wn)), wnid)
            for wnid, name in read_wnids(wnids)
        ]
    else:
        raise ValueError(f"dataset must be one of {sorted(FILES)}, got {dataset!r}.")
    h = LabelHierarchy.from_wordnet(
        {i: syn for i, (_, syn) in enumerate(classes)},
        names={i: name for i, (name, _) in enumerate(classes)},
        wordnet=wordnet,
    )
    data = h.to_dict()
    data["meta"] = {
        "description": _describe(dataset, len(classes)),
        "wordnet": "3.0",
        "synsets": [syn for _, syn in classes],
    }
    return data


def _dumps(data):
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python maintenance/build_hierarchies.py",
        description="Regenerate sklhash's shipped WordNet class hierarchies.",
    )
    parser.add_argument("--wordnet", help="a WordNet 3.0 dict directory")
    parser.add_argument(
        "--imagenet-wnids",
        default=str(IMAGENET_WNIDS),
        help="file whose lines start with the ImageNet class wnids, or a folder "
        "of wnid-named class folders (default: the shipped list, "
        "maintenance/imagenet_wnids.txt)",
    )
    parser.add_argument("--out", default=str(DATA_DIR), help="output folder")
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the files in --out instead of writing; "
        "exit 1 on a difference",
    )
    args = parser.parse_args(argv)
    datasets = ["fashion_mnist", "cifar100", "imagenet"]
    out = Path(args.out)
    status = 0
    for dataset in datasets:
        text = _dumps(build(dataset, wordnet=args.wordnet, wnids=args.imagenet_wnids))
        path = out / FILES[dataset]
        if args.check:
            same = path.is_file() and path.read_text(encoding="utf-8") == text
            print(f"{path}: {'up to date' if same else 'DIFFERS'}")
            status |= not same
        else:
            out.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            print(f"wrote {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
