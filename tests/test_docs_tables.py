"""The docs' benchmark tables equal what their recorded results render to."""

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "docs_tables.py"
_spec = importlib.util.spec_from_file_location("docs_tables", _PATH)
docs_tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs_tables)


def test_every_marked_table_matches_its_record():
    found = []
    for path in docs_tables.DOCS:
        text = path.read_text(encoding="utf-8")
        new, names = docs_tables.update(text)
        found += names
        assert new == text, f"{path.name}: rerun python benchmarks/docs_tables.py"
    assert "main-job" in found


def test_a_changed_record_is_caught(tmp_path, monkeypatch):
    text = (
        "<!-- table: t (from benchmarks/records/main_job_digits.json) -->\n"
        "| stale |\n<!-- /table -->\n"
    )
    new, names = docs_tables.update(text)
    assert names == ["t"] and new != text and "| method | bits |" in new
