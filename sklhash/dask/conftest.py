"""Skip this package's doctests when the optional 'dask' extra is missing.

The modules import without Dask, but their examples run it.
"""

import importlib.util

collect_ignore_glob = (
    []
    if importlib.util.find_spec("dask") and importlib.util.find_spec("distributed")
    else ["*.py"]
)
