"""Docs and code comments name the shared reference material by its path relative to the
project (``../shared/...``), never by one machine's absolute path."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = {".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules"}
ABSOLUTE = re.compile(r"/work/shared\b")


def test_no_doc_or_source_names_shared_material_by_an_absolute_path():
    found = []
    for base, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP]
        for name in names:
            if not name.endswith((".md", ".py")):
                continue
            path = os.path.join(base, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, 1):
                    if ABSOLUTE.search(line) and path != os.path.abspath(__file__):
                        found.append("%s:%d" % (os.path.relpath(path, ROOT), n))
    assert found == []
