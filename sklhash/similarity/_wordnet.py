"""WordNet 3.0 through nltk, offline, and the hypernym hierarchies built from it.

Where WordNet comes from, in this order:

1. a dictionary directory passed as ``path`` (or set in ``$SKLHASH_WORDNET``);
2. nltk's own corpus (``python -m nltk.downloader wordnet``);
3. the Princeton ``dict`` directory of the Debian/Ubuntu packages
   ``wordnet-base`` and ``wordnet-sense-index`` (``/usr/share/wordnet``).

nltk reads a dictionary directory only from a root listed in
``nltk.data.path``, refuses symlinked files, and needs a ``lexnames`` file
that Debian does not ship. So a dictionary directory is copied once into a
private per-user cache with ``lexnames`` written out, and that cache is added
to ``nltk.data.path``. The cache is ``$SKLHASH_CACHE/wordnet``, else
``$XDG_CACHE_HOME/sklhash/wordnet``, else ``~/.cache/sklhash/wordnet``; it
is created with mode 0o700 and used only when it is a real folder (not a
link) owned by the current user and writable by nobody else, so that no
other user can plant a WordNet in it. Otherwise the copy goes to a fresh
private temporary folder, removed when the process exits; never to a folder
of a predictable name under ``/tmp``.

nltk is an optional dependency (the ``wordnet`` extra): it is imported only
when a WordNet is loaded, and its absence is an ImportError naming the
install command. The shipped hierarchies need neither nltk nor WordNet.
"""

import atexit
import functools
import hashlib
import os
import re
import shutil
import stat
import tempfile
import warnings
from pathlib import Path

_WNID = re.compile(r"^([nvasr])(\d{8})$")

# The 45 lexicographer files of WordNet 3.0 (lexnames(5WN)), in file-number
# order, with their syntactic category (1 noun, 2 verb, 3 adjective, 4 adverb).
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact "
    "noun.attribute noun.body noun.cognition noun.communication noun.event "
    "noun.feeling noun.food noun.group noun.location noun.motive noun.object "
    "noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time "
    "verb.body verb.change verb.cognition verb.communication verb.competition "
    "verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}

_POS = ("noun", "verb", "adj", "adv")
_REQUIRED = tuple(f"index.{pos}" for pos in _POS) + tuple(f"data.{pos}" for pos in _POS)
_REQUIRED += tuple(f"{pos}.exc" for pos in _POS)
_OPTIONAL = ("cntlist.rev", "index.sense")

DEBIAN_WORDNET_DIRS = ("/usr/share/wordnet", "/usr/share/wordnet/dict")

_HOW_TO_GET = (
    "Get WordNet 3.0 in one of two ways: `python -m nltk.downloader wordnet` "
    "(nltk's corpus), or `apt-get install wordnet-base wordnet-sense-index` "
    "(Debian/Ubuntu, dictionary under /usr/share/wordnet); a WordNet 3.0 'dict' "
    "directory can also be passed as `path` or set in $SKLHASH_WORDNET."
)


_NLTK_MISSING = (
    "Loading WordNet (LabelHierarchy.from_wordnet, load_wordnet, "
    "load_wordnet_glosses, hierarchy='auto' on WordNet-id folders) needs nltk, "
    'an optional dependency: pip install "sklhash[wordnet]". The shipped '
    "hierarchies (fashion_mnist_hierarchy, cifar100_hierarchy) need no nltk."
)


def _nltk_data():
    """``nltk.data``, or an ImportError that says how to install it."""
    try:
        import nltk.data
    except ImportError as exc:
        raise ImportError(_NLTK_MISSING) from exc
    return nltk.data


def _cache_root():
    """The per-user cache folder of the WordNet copies (see module doc)."""
    base = os.environ.get("SKLHASH_CACHE")
    if base:
        return Path(base).expanduser() / "wordnet"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "sklhash" / "wordnet"


class _UntrustedCache(OSError):
    """The cache folder could have been written by someone else."""


def _check_private(path):
    """``path`` must be a real folder of ours that nobody else can write.

    Raises _UntrustedCache otherwise. ``lstat`` so that a link planted in
    place of the folder is seen as a link, not followed.
    """
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise _UntrustedCache(f"{path} is not a plain folder (a link?)")
    if info.st_uid != os.getuid():
        raise _UntrustedCache(f"{path} belongs to user id {info.st_uid}, not to us")
    if info.st_mode & 0o022:
        raise _UntrustedCache(f"{path} is writable by other users")
    return path


def _private_root():
    """The cache root, created 0o700 and checked; else an OSError."""
    root = _cache_root()
    if not root.is_absolute():
        raise _UntrustedCache(f"the cache folder {root} is not an absolute path")
    root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        root.mkdir(mode=0o700)
    except FileExistsError:
        pass
    # Its parent could let another user swap our folder for theirs.
    _check_private(root.parent)
    info = os.lstat(root)
    if info.st_uid == os.getuid() and stat.S_ISDIR(info.st_mode):
        os.chmod(root, 0o700)  # an older sklhash created it 0o755
    return _check_private(root)


@functools.lru_cache(maxsize=1)
def _session_root():
    """A fresh private folder for this process, removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="sklhash-wordnet-"))  # 0o700, random
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def _is_dict_dir(path):
    path = Path(path)
    return all((path / name).is_file() for name in _REQUIRED)


def _authorise(root):
    """Let nltk's path sandbox read ``root``."""
    data = _nltk_data()
    root = str(root)
    if root not in data.path:
        data.path.append(root)


def _private_copy(source):
    """A copy of a WordNet dict directory that nltk can read (see module doc)."""
    source = Path(source).resolve()
    stamp = "|".join(
        f"{name}:{(source / name).stat().st_size}:{(source / name).stat().st_mtime_ns}"
        for name in _REQUIRED
    )
    key = hashlib.sha256(f"{source}|{stamp}".encode()).hexdigest()[:16]
    problems = []
    for get_root in (_private_root, _session_root):
        try:
            root = get_root()
        except OSError as exc:  # unwritable, or not ours: not used
            problems.append(f"{_cache_root()}: {exc}")
            continue
        target = root / key
        if (target / "lexnames").is_file():
            try:
                return _check_private(target)
            except OSError as exc:
                problems.append(str(exc))
                continue
        try:
            work = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
        except OSError as exc:
            problems.append(f"{root}: {exc}")
            continue
        try:
            for name in _REQUIRED + _OPTIONAL:
                if (source / name).is_file():
                    # copyfile follows symlinks: the copy holds real files
                    shutil.copyfile(source / name, work / name)
            if (source / "lexnames").is_file():
                shutil.copyfile(source / "lexnames", work / "lexnames")
            else:
                with open(work / "lexnames", "w", encoding="ascii") as f:
                    for i, name in enumerate(_LEXNAMES):
                        f.write(f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n")
            try:
                os.replace(work, target)
            except OSError:
                # another process finished the same copy first
                if not (target / "lexnames").is_file():
                    raise
        except OSError as exc:
            problems.append(f"{root}: {exc}")
            continue
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
        return target
    raise OSError(
        f"could not write a private copy of the WordNet directory {source} "
        f"({'; '.join(problems)}); set $SKLHASH_CACHE to a folder of yours."
    )


@functools.lru_cache(maxsize=1)
def _reader_class():
    _nltk_data()  # the ImportError that names the extra
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class OfflineWordNetReader(WordNetCorpusReader):
        """nltk's reader without the map to nltk's downloaded 'wordnet' corpus.

        nltk maps every WordNet to its own corpus for the multilingual (OMW)
        functions, which fails offline; sklhash uses English WordNet only.
        """

        def map_wn(self, version="wordnet"):
            return None

    return OfflineWordNetReader


@functools.lru_cache(maxsize=8)
def _reader_for_dir(source):
    copy = _private_copy(source)
    _authorise(copy.parent)
    with warnings.catch_warnings():
        # "multilingual functions are not available": we only need English
        warnings.simplefilter("ignore", UserWarning)
        return _reader_class()(str(copy), None)


@functools.lru_cache(maxsize=1)
def _nltk_corpus():
    _nltk_data()  # the ImportError that names the extra
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError:
        return None
    return wordnet


def load_wordnet(path=None):
    """Load nltk's WordNet reader offline (cached: one reader per source).

    Parameters
    ----------
    path : path-like, default=None
        A WordNet 3.0 ``dict`` directory (``data.noun``, ``index.noun``, ...).
        ``None`` tries ``$SKLHASH_WORDNET``, nltk's downloaded corpus, then
        Debian's ``/usr/share/wordnet``.

    Returns
    -------
    nltk.corpus.reader.wordnet.WordNetCorpusReader
        The reader (nltk's own corpus object when that is what was found).

    Raises
    ------
    LookupError
        When no WordNet is found; the message says how to get one.
    ImportError
        When nltk is not installed (``pip install "sklhash[wordnet]"``).

    Examples
    --------
    >>> from sklhash.similarity import load_wordnet
    >>> wn = load_wordnet()
    >>> wn.synset_from_pos_and_offset("n", 2084071).name()
    'dog.n.01'
    """
    _nltk_data()  # before anything is copied: nltk is an optional extra
    if path is None:
        path = os.environ.get("SKLHASH_WORDNET") or None
    if path is not None:
        path = Path(path).expanduser()
        if not _is_dict_dir(path):
            raise LookupError(
                f"{path} is not a WordNet dictionary directory (it needs "
                f"{', '.join(_REQUIRED)}). {_HOW_TO_GET}"
            )
        return _reader_for_dir(str(path.resolve()))
    corpus = _nltk_corpus()
    if corpus is not None:
        return corpus
    for candidate in DEBIAN_WORDNET_DIRS:
        if _is_dict_dir(candidate):
            return _reader_for_dir(str(Path(candidate).resolve()))
    raise LookupError(
        "WordNet was not found: no nltk 'wordnet' corpus and no dictionary in "
        f"{' or '.join(DEBIAN_WORDNET_DIRS)}. {_HOW_TO_GET}"
    )


def wordnet_available():
    """Tell whether :func:`load_wordnet` finds a WordNet (without raising).

    Returns
    -------
    bool
        True when a WordNet could be loaded (False without nltk too).
    """
    try:
        load_wordnet()
    except (LookupError, ImportError):
        return False
    return True


def _wordnet_installed():
    """Cheap check, without loading anything: is some WordNet on disk?

    Tests skip on it; it is deliberately generous (any Debian directory
    counts) so that a broken install fails the tests instead of skipping them.
    Without nltk (an optional extra) no WordNet can be read: False.
    """
    try:
        import nltk.data
    except ImportError:
        return False
    if os.environ.get("SKLHASH_WORDNET") or any(
        os.path.isdir(d) for d in DEBIAN_WORDNET_DIRS
    ):
        return True

    try:
        nltk.data.find("corpora/wordnet")
    except LookupError:
        return False
    return True


def _as_reader(wordnet):
    if wordnet is None or isinstance(wordnet, (str, os.PathLike)):
        return load_wordnet(wordnet)
    return wordnet


def synset(spec, wordnet=None):
    """Resolve a synset name (``"dog.n.01"``), wnid (``"n02084071"``) or Synset.

    Parameters
    ----------
    spec : str or nltk Synset
        A synset name, an ImageNet-style wnid (pos letter + 8-digit offset)
        or a Synset (returned as is).
    wordnet : WordNet reader or path-like, default=None
        The WordNet to use; ``None`` calls :func:`load_wordnet`.

    Returns
    -------
    nltk.corpus.reader.wordnet.Synset
        The synset.

    Raises
    ------
    ValueError
        When WordNet has no such synset.

    Examples
    --------
    >>> from sklhash.similarity import synset
    >>> synset("n02084071").name(), synset("dog.n.01").offset()
    ('dog.n.01', 2084071)
    """
    wn = _as_reader(wordnet)
    if hasattr(spec, "hypernyms") and hasattr(spec, "name"):
        return spec
    if not isinstance(spec, str):
        raise ValueError(
            f"a synset must be a name like 'dog.n.01' or a wnid like 'n02084071', "
            f"got {spec!r}."
        )
    match = _WNID.match(spec)
    try:
        if match:
            with warnings.catch_warnings():
                # nltk warns and returns None for an unknown offset
                warnings.simplefilter("ignore", UserWarning)
                found = wn.synset_from_pos_and_offset(
                    match.group(1), int(match.group(2))
                )
            if found is None:
                raise ValueError("no synset at that offset")
            return found
        return wn.synset(spec)
    except Exception as exc:  # nltk raises WordNetError, ValueError, KeyError...
        raise ValueError(f"WordNet has no synset {spec!r} ({exc}).") from None


def _hypernyms(s):
    return s.hypernyms() + s.instance_hypernyms()


def synset_label(s):
    """A readable name for a synset: its first lemma, underscores as spaces."""
    return s.lemmas()[0].name().replace("_", " ")


def wordnet_parent_map(synsets, *, mode="tree", wordnet=None):
    """Parents (``{node: tuple of parents}``) and names for a WordNet hierarchy.

    See :meth:`LabelHierarchy.from_wordnet` for the meaning of the arguments.
    Every label becomes a leaf whose only parent is its synset's node.
    """
    if mode not in ("tree", "dag"):
        raise ValueError(f"mode must be 'tree' or 'dag', got {mode!r}.")
    if not hasattr(synsets, "items"):
        raise ValueError(
            "synsets must be a mapping {label: synset name or wnid}, got "
            f"{type(synsets).__name__}."
        )
    if not synsets:
        raise ValueError("empty hierarchy: no synsets were given.")
    wn = _as_reader(wordnet)
    resolved = {}
    for label, spec in synsets.items():
        try:
            resolved[label] = synset(spec, wn)
        except ValueError as exc:
            raise ValueError(f"label {label!r}: {exc}") from None

    depth = {}

    def longest_depth(s):
        # iterative, so deep chains cannot hit the recursion limit
        stack = [s]
        while stack:
            top = stack[-1]
            pending = [h for h in _hypernyms(top) if h not in depth]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            depth[top] = max((depth[h] + 1 for h in _hypernyms(top)), default=0)
        return depth[s]

    def chosen(s):
        hyper = _hypernyms(s)
        if mode == "dag" or len(hyper) <= 1:
            return sorted(hyper, key=lambda h: h.name())
        longest_depth(s)
        # the hypernym on the longest path to the root; ties to the smaller name
        return [min(hyper, key=lambda h: (-depth[h], h.name()))]

    parents, names = {}, {}
    todo = list(dict.fromkeys(resolved.values()))
    while todo:
        s = todo.pop()
        if s.name() in parents:
            continue
        ps = chosen(s)
        parents[s.name()] = tuple(h.name() for h in ps)
        names[s.name()] = synset_label(s)
        todo.extend(h for h in ps if h.name() not in parents)
    for label, s in resolved.items():
        if label in parents:
            raise ValueError(
                f"label {label!r} collides with the WordNet node of the same name; "
                "use other labels (e.g. integers)."
            )
        parents[label] = (s.name(),)
    # node order: classes first, then synsets by name, for a stable layout
    ordered = {label: parents[label] for label in resolved}
    ordered.update(
        (n, parents[n]) for n in sorted(k for k in parents if k not in resolved)
    )
    return ordered, names
