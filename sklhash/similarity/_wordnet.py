"""WordNet 3.0 through nltk, offline, and the hypernym hierarchies built from it.

Where WordNet comes from, in this order:

1. a dictionary directory passed as ``path`` (or set in ``$SKLHASH_WORDNET``);
2. nltk's own corpus (``python -m nltk.downloader wordnet``);
3. the Princeton ``dict`` directory of the Debian/Ubuntu packages
   ``wordnet-base`` and ``wordnet-sense-index`` (``/usr/share/wordnet``).

nltk reads a dictionary directory only from a root listed in
``nltk.data.path``, refuses symlinked files, and needs a ``lexnames`` file
that Debian does not ship. So a dictionary directory is copied once into a
private cache (``$SKLHASH_DATA/wordnet`` or ``~/.cache/sklhash/wordnet``)
with ``lexnames`` written out, and that cache is added to ``nltk.data.path``.
"""

import functools
import hashlib
import os
import re
import shutil
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


def _cache_root():
    base = os.environ.get("SKLHASH_DATA")
    if base:
        return Path(base).expanduser() / "wordnet"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "sklhash" / "wordnet"


def _is_dict_dir(path):
    path = Path(path)
    return all((path / name).is_file() for name in _REQUIRED)


def _authorise(root):
    """Let nltk's path sandbox read ``root``."""
    import nltk.data

    root = str(root)
    if root not in nltk.data.path:
        nltk.data.path.append(root)


def _private_copy(source):
    """A copy of a WordNet dict directory that nltk can read (see module doc)."""
    source = Path(source).resolve()
    stamp = "|".join(
        f"{name}:{(source / name).stat().st_size}:{(source / name).stat().st_mtime_ns}"
        for name in _REQUIRED
    )
    key = hashlib.sha256(f"{source}|{stamp}".encode()).hexdigest()[:16]
    for root in (_cache_root(), Path(tempfile.gettempdir()) / f"sklhash-{os.getuid()}"):
        target = root / key
        if (target / "lexnames").is_file():
            return target
        try:
            root.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
        except OSError:
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
        except OSError:
            continue
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
        return target
    raise OSError(
        f"could not write a private copy of the WordNet directory {source} to "
        f"{_cache_root()}; set $SKLHASH_DATA to a writable directory."
    )


@functools.lru_cache(maxsize=1)
def _reader_class():
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

    Examples
    --------
    >>> from sklhash.similarity import load_wordnet
    >>> wn = load_wordnet()
    >>> wn.synset_from_pos_and_offset("n", 2084071).name()
    'dog.n.01'
    """
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
        True when a WordNet could be loaded.
    """
    try:
        load_wordnet()
    except LookupError:
        return False
    return True


def _wordnet_installed():
    """Cheap check, without loading anything: is some WordNet on disk?

    Tests skip on it; it is deliberately generous (any Debian directory
    counts) so that a broken install fails the tests instead of skipping them.
    """
    if os.environ.get("SKLHASH_WORDNET") or any(
        os.path.isdir(d) for d in DEBIAN_WORDNET_DIRS
    ):
        return True
    import nltk.data

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
