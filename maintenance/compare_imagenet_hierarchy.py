"""Compare sklhash's shipped ImageNet-1k hierarchy with Barz & Denzler's tree.

Barz & Denzler (WACV 2019) publish the WordNet tree they trained and evaluated
ILSVRC-2012 with as ``ILSVRC/wordnet.parent-child.mintree.txt`` in their
``semantic-embeddings`` repository (one ``parent child`` wnid pair a line).
Both trees come from WordNet 3.0 but break its multiple inheritance
differently: sklhash keeps, for every synset, the hypernym on its longest
path to ``entity.n.01`` (ties by name); theirs adds the paths that change the
tree least. This script measures how far that matters for the class-pair
similarity ``1 - height(lcs) / max_height`` that mAHP and the hierarchy
targets use::

    python maintenance/compare_imagenet_hierarchy.py MINTREE_FILE

It prints the trees' sizes and heights, the share of class pairs whose
lowest common subsumer is the same synset, and the Pearson and Spearman
correlations of the two 1000 x 1000 similarity matrices (off-diagonal).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

from sklhash.datasets import imagenet_hierarchy
from sklhash.similarity import LabelHierarchy


def _offset(synset_name, wordnet):
    return "n{:08d}".format(wordnet.synset(synset_name).offset())


def compare(mintree_path, wordnet=None):
    """Return a dict of agreement figures between the two hierarchies."""
    from sklhash.similarity import load_wordnet

    wn = load_wordnet(wordnet)
    ours = imagenet_hierarchy()
    data = Path(__file__).parents[1] / "sklhash" / "datasets" / "data"
    shipped = data / "imagenet_hierarchy.json"
    wnids = json.loads(shipped.read_text(encoding="utf-8"))["meta"]["synsets"]
    with open(mintree_path, encoding="utf-8") as f:
        edges = [tuple(line.split()[:2]) for line in f if line.strip()]
    theirs = LabelHierarchy.from_edges(edges, classes=list(wnids))
    S_ours = ours.similarity_matrix()
    S_theirs = theirs.similarity_matrix()
    off = ~np.eye(len(wnids), dtype=bool)
    a, b = S_ours[off], S_theirs[off]
    # The lowest common subsumer as a wnid in both trees (sklhash names
    # synset nodes by WordNet name and hangs each class as an int leaf).
    n = len(wnids)
    rng = np.random.default_rng(0)
    pairs = rng.choice(n, size=(20000, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    same = 0
    for i, j in pairs:
        mine = ours.lcs(int(i), int(j))
        mine = _offset(mine, wn) if isinstance(mine, str) else wnids[mine]
        same += mine == theirs.lcs(wnids[i], wnids[j])
    return {
        "nodes (sklhash, Barz & Denzler)": (len(ours.nodes), len(theirs.nodes)),
        "max height": (ours.max_height, theirs.max_height),
        "same lcs (share of 20k random pairs)": same / len(pairs),
        "pearson": pearsonr(a, b).statistic,
        "spearman": spearmanr(a, b).statistic,
        "mean similarity": (a.mean(), b.mean()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mintree", help="Barz & Denzler's parent-child file")
    parser.add_argument("--wordnet", help="a WordNet 3.0 dict directory")
    args = parser.parse_args(argv)
    for key, value in compare(args.mintree, args.wordnet).items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
