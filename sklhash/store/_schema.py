"""The version marker every sklhash store table carries.

A store table is recognised by its table comment, a small JSON object such as
``{"sklhash_store": 1, "n_bits": 64, "sklhash": "0.1.0"}``. ``sklhash_store``
is the layout version: a reader refuses a table without a marker (a table
of the user's that happens to have the name) and a table written in a
layout it does not know, rather than guessing.
"""

import json

# Layout version 1: PostgreSQL (id bigint primary key, code bit(n) not null,
# metadata jsonb); DuckDB (id BIGINT primary key, w0..w{m-1} UBIGINT not null,
# metadata JSON), big-endian words.
FORMAT_VERSION = 1


def make_marker(n_bits):
    """The comment text for a new table of ``n_bits``-bit codes."""
    from .. import __version__

    return json.dumps(
        {"sklhash_store": FORMAT_VERSION, "n_bits": int(n_bits), "sklhash": __version__}
    )


def read_marker(comment, table, where):
    """``n_bits`` of an existing table from its comment, or ValueError."""
    try:
        marker = json.loads(comment) if comment else None
    except ValueError:
        marker = None
    if not isinstance(marker, dict) or "sklhash_store" not in marker:
        raise ValueError(
            f"table {table!r} in {where} exists but is not a sklhash store (it has "
            "no sklhash version marker in its comment); pick another table name."
        )
    version = marker["sklhash_store"]
    if version != FORMAT_VERSION:
        raise ValueError(
            f"table {table!r} in {where} is a sklhash store of layout version "
            f"{version!r} (written by sklhash {marker.get('sklhash')!r}); this "
            f"sklhash reads layout version {FORMAT_VERSION} only."
        )
    n_bits = marker.get("n_bits")
    if isinstance(n_bits, bool) or not isinstance(n_bits, int) or n_bits < 1:
        raise ValueError(
            f"table {table!r} in {where} has a damaged sklhash marker "
            f"(n_bits={n_bits!r})."
        )
    return n_bits
