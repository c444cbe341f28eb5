"""Keep the docs' benchmark tables generated from recorded results.

A table in the docs between the markers::

    <!-- table: NAME (from benchmarks/records/FILE.json) -->
    ...
    <!-- /table -->

is rendered from that ``results.json`` (the file ``sklhash benchmark --out``
writes, copied under ``benchmarks/records/``) with the harness's own
:func:`sklhash.benchmark.summarize` and :func:`~sklhash.benchmark.markdown_table`.
To update a table, rerun its command, copy the new ``results.json`` over the
record and run::

    python benchmarks/docs_tables.py          # rewrite the tables
    python benchmarks/docs_tables.py --check  # exit 1 if a table differs

``tests/test_docs_tables.py`` runs the check, so a docs table cannot drift
from its record.
"""

import argparse
import json
import re
import sys
from pathlib import Path

from sklhash.benchmark import markdown_table, summarize

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "docs" / "benchmarks.md", ROOT / "README.md"]
_BLOCK = re.compile(
    r"(<!-- table: (?P<name>[\w-]+) \(from (?P<record>[\w./-]+)\) -->\n)"
    r"(?P<body>.*?)"
    r"(<!-- /table -->)",
    re.S,
)


def render(record):
    """The markdown table of one recorded ``results.json``."""
    data = json.loads((ROOT / record).read_text(encoding="utf-8"))
    return markdown_table(summarize(data["runs"]))


def update(text):
    """``text`` with every marked table re-rendered, and the names found."""
    names = []

    def replace(match):
        names.append(match["name"])
        return match.group(1) + render(match["record"]) + "\n" + match.group(5)

    return _BLOCK.sub(replace, text), names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    status = 0
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        new, names = update(text)
        for name in names:
            print(f"{path.relative_to(ROOT)}: table {name}")
        if new != text:
            if args.check:
                print(f"{path.relative_to(ROOT)}: a table differs from its record")
                status = 1
            else:
                path.write_text(new, encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
