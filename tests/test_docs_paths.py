"""The README and the docs name files that exist: a path in backticks is a path in the tree."""

import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPS = "firmware|host_tools|hw_sim|tests|bench|boards|scenarios|tariffs|canteens|docs"
PATH = re.compile(r"`((?:%s)/[A-Za-z0-9_./-]*)`" % TOPS)


def _named():
    out = []
    for doc in ["README.md"] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                for m in PATH.finditer(line):
                    if re.search(r"\b[A-Z]{3,}\b", m.group(1)):
                        continue  # a placeholder, e.g. boards/NAME.json
                    out.append(("%s:%d" % (os.path.relpath(doc, ROOT), n), m.group(1)))
    return out


def test_the_docs_name_paths():
    assert len(_named()) > 50  # the scan sees them


def test_every_path_the_docs_name_exists():
    missing = ["%s %s" % (where, p) for where, p in _named()
               if not os.path.exists(os.path.join(ROOT, p.rstrip("/")))]
    assert missing == []
