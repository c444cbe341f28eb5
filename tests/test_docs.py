"""The documentation builds with warnings as errors (CI runs this build)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs"


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra is not installed")
    # Build from a copy so generated stubs never land in the source tree.
    # The pages include files from examples/ and benchmarks/ by relative path.
    src = tmp_path / "docs"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "generated"))
    for folder in ["examples", "benchmarks"]:
        if (DOCS.parent / folder).is_dir():
            shutil.copytree(
                DOCS.parent / folder,
                tmp_path / folder,
                ignore=shutil.ignore_patterns("results", "__pycache__"),
            )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-W",
            "--keep-going",
            "-q",
            str(src),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    assert (tmp_path / "html" / "index.html").exists()
    assert (tmp_path / "html" / "generated" / "sklhash.ITQHasher.html").exists()
