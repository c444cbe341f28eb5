"""The shipped ImageNet-1k hierarchy: regenerated from the shipped wnid list."""

import importlib.util
import json
from pathlib import Path

import numpy as np

from sklhash.datasets import imagenet_hierarchy

_ROOT = Path(__file__).resolve().parents[1]
_BUILD = _ROOT / "maintenance" / "build_hierarchies.py"
_WNIDS = _ROOT / "maintenance" / "imagenet_wnids.txt"
_spec = importlib.util.spec_from_file_location("build_hierarchies", _BUILD)
build_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_mod)


def test_build_script_regenerates_the_shipped_imagenet_file():
    # The wnid list (ILSVRC-2012's 1000 classes, from the timm wheel's
    # imagenet_synsets.txt) and WordNet 3.0 make the shipped file again.
    shipped = json.loads(
        (build_mod.DATA_DIR / build_mod.FILES["imagenet"]).read_text(encoding="utf-8")
    )
    assert build_mod.build("imagenet", wnids=_WNIDS) == shipped


def test_imagenet_hierarchy_is_a_tree_over_sorted_wnids():
    h = imagenet_hierarchy()
    assert h.classes == list(range(1000))
    assert h.is_tree and h.roots == ["entity.n.01"]
    wnids = [line.split()[0] for line in _WNIDS.read_text().splitlines()]
    assert wnids == sorted(wnids) and len(set(wnids)) == 1000
    assert h.name(0).startswith("tench") and h.name(207).startswith("golden retriever")
    S = h.similarity_matrix()
    np.testing.assert_array_equal(np.diag(S), 1.0)
    np.testing.assert_array_equal(S, S.T)
    # Two dog breeds meet lower in the tree than a dog and a ship.
    assert S[207, 208] > S[207, 510] and h.lcs(207, 208) != h.lcs(207, 510)
