"""nltk is an optional extra: only building hierarchies from WordNet needs it."""

import subprocess
import sys

import pytest

from sklhash.datasets import _hierarchies
from sklhash.similarity import LabelHierarchy, _wordnet, load_wordnet, wordnet_available

INSTALL = r'pip install "sklhash\[wordnet\]"'


@pytest.fixture
def no_nltk(monkeypatch):
    """nltk made unimportable, and every cached reader forgotten."""
    caches = (
        _wordnet._nltk_corpus,
        _wordnet._reader_for_dir,
        _wordnet._reader_class,
        _hierarchies._load,
    )
    for cache in caches:
        cache.cache_clear()
    for name in [m for m in sys.modules if m == "nltk" or m.startswith("nltk.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "nltk", None)
    yield
    for cache in caches:
        cache.cache_clear()


def test_shipped_hierarchies_load_without_nltk(no_nltk):
    assert _hierarchies.fashion_mnist_hierarchy().classes == list(range(10))
    assert len(_hierarchies.cifar100_hierarchy().classes) == 100


@pytest.mark.parametrize(
    "call",
    [
        lambda: load_wordnet(),
        lambda: load_wordnet("/usr/share/wordnet"),
        lambda: LabelHierarchy.from_wordnet({0: "dog.n.01", 1: "cat.n.01"}),
    ],
)
def test_wordnet_without_nltk_names_the_extra(no_nltk, call):
    with pytest.raises(ImportError, match=INSTALL):
        call()


def test_wordnet_available_is_false_without_nltk(no_nltk):
    assert wordnet_available() is False
    assert _wordnet._wordnet_installed() is False


def test_image_folder_of_wnids_without_nltk(no_nltk, tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    from sklhash.datasets import load_image_folder

    for wnid in ("n02084071", "n02121808"):
        (tmp_path / wnid).mkdir()
        Image.new("RGB", (4, 4)).save(tmp_path / wnid / "a.png")
    with pytest.raises(ImportError, match=f"(?s){INSTALL}.*pass hierarchy=None"):
        load_image_folder(tmp_path, image_size=2)
    assert load_image_folder(tmp_path, image_size=2, hierarchy=None).images.shape == (
        2,
        3,
        2,
        2,
    )


def test_importing_sklhash_needs_no_nltk():
    code = (
        "import sys; sys.modules['nltk'] = None\n"
        "import sklhash, sklhash.datasets, sklhash.similarity\n"
        "from sklhash.datasets import fashion_mnist_hierarchy, cifar100_hierarchy\n"
        "assert len(cifar100_hierarchy().classes) == 100\n"
        "assert fashion_mnist_hierarchy().name(0) == 'T-shirt/top'\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
