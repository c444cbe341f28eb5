"""The WordNet copy cache trusts no folder another user could have made.

A Debian WordNet directory is copied once into a per-user cache (see
``sklhash.similarity._wordnet``). A cache under a predictable name in
``/tmp``, a linked cache folder, or one owned by someone else would let
another user plant the WordNet (hence the hierarchies) sklhash reads.
"""

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from sklhash.similarity import _wordnet

pytestmark = pytest.mark.skipif(
    not _wordnet._wordnet_installed(),
    reason="no WordNet: apt-get install wordnet-base wordnet-sense-index",
)

PLANTED = "planted by another user"


@pytest.fixture(scope="module")
def real_dict():
    for candidate in (os.environ.get("SKLHASH_WORDNET"), *_wordnet.DEBIAN_WORDNET_DIRS):
        if candidate and _wordnet._is_dict_dir(candidate):
            return Path(candidate)
    return Path(_wordnet.load_wordnet().root.path)  # nltk's corpus


@pytest.fixture
def source(tmp_path, real_dict):
    """A WordNet dict directory of links, as Debian ships it."""
    real = real_dict
    links = tmp_path / "dict"
    links.mkdir()
    for name in _wordnet._REQUIRED:
        (links / name).symlink_to(real / name)
    return links


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Cache variables and the temporary folder pointed into tmp_path."""
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    _forget_roots()
    yield systmp
    _forget_roots()


def _forget_roots():
    _wordnet._reader_for_dir.cache_clear()
    _wordnet._session_root.cache_clear()


def set_cache(monkeypatch, folder):
    # SKLHASH_CACHE names the cache; SKLHASH_DATA was used before it, so
    # both point at the same place and the tests mean the same on old code.
    monkeypatch.setenv("SKLHASH_CACHE", str(folder))
    monkeypatch.setenv("SKLHASH_DATA", str(folder))


def key_of(source, tmp_path, monkeypatch):
    """The name of the copy of ``source``, learnt from a clean cache."""
    set_cache(monkeypatch, tmp_path / "clean")
    key = _wordnet._private_copy(str(source)).name
    shutil.rmtree(tmp_path / "clean")
    return key


def plant(folder):
    """What an attacker leaves: a complete-looking copy with a marker."""
    folder.mkdir(parents=True)
    (folder / "lexnames").write_text("00\tadj.all\t3\n")
    (folder / "PLANTED").write_text(PLANTED)


def test_copy_is_private(source, isolated, tmp_path, monkeypatch):
    set_cache(monkeypatch, tmp_path / "cache")
    copy = _wordnet._private_copy(str(source))
    assert copy.parent == tmp_path / "cache" / "wordnet"
    for folder in (copy, copy.parent):
        info = os.lstat(folder)
        assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()
    assert (copy / "lexnames").is_file() and not (copy / "data.noun").is_symlink()
    # A second call finds the copy instead of making another.
    assert _wordnet._private_copy(str(source)) == copy


def test_predictable_tmp_folder_is_never_used(source, isolated, tmp_path, monkeypatch):
    key = key_of(source, tmp_path, monkeypatch)
    # The cache cannot be created (its parent is a file), so the copy goes
    # elsewhere: never to the predictable /tmp/sklhash-<uid>, where another
    # user planted a WordNet.
    planted = isolated / f"sklhash-{os.getuid()}" / key
    plant(planted)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    set_cache(monkeypatch, blocker)
    copy = _wordnet._private_copy(str(source))
    assert not (copy / "PLANTED").exists()
    assert copy.parent != planted.parent
    assert stat.S_IMODE(os.lstat(copy.parent).st_mode) == 0o700
    assert (copy / "data.noun").stat().st_size > 0


def test_linked_cache_folder_is_not_trusted(source, isolated, tmp_path, monkeypatch):
    key = key_of(source, tmp_path, monkeypatch)
    attacker = tmp_path / "attacker"
    plant(attacker / key)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    (cache / "wordnet").symlink_to(attacker, target_is_directory=True)
    set_cache(monkeypatch, cache)
    copy = _wordnet._private_copy(str(source))
    assert not (copy / "PLANTED").exists()
    assert attacker not in copy.parents


def test_cache_of_another_user_is_not_trusted(source, isolated, tmp_path, monkeypatch):
    key = key_of(source, tmp_path, monkeypatch)
    cache = tmp_path / "shared"
    plant(cache / "wordnet" / key)
    set_cache(monkeypatch, cache)
    # The folder belongs to another user: the files are ours, so pretend we
    # are someone else.
    me = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: me + 4242)
    copy = _wordnet._private_copy(str(source))
    assert not (copy / "PLANTED").exists()
    assert cache not in copy.parents


def test_cache_in_a_folder_others_can_write(source, isolated, tmp_path, monkeypatch):
    key = key_of(source, tmp_path, monkeypatch)
    shared = tmp_path / "world-writable"
    plant(shared / "wordnet" / key)
    shared.chmod(0o777)  # anyone could have replaced wordnet/ in it
    set_cache(monkeypatch, shared)
    copy = _wordnet._private_copy(str(source))
    assert not (copy / "PLANTED").exists()
    assert shared not in copy.parents
