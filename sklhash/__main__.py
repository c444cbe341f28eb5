"""``python -m sklhash``: the same as the ``sklhash`` command."""

from .cli import main

raise SystemExit(main())
