"""Size budgets of the website widget (docs/widget.md, "Budgets").

Plain files, no build step: what is in static/widget/ is what browsers get.

- the loader (``/widget.js``, static/widget/loader.js) ≤ 10 KB gzip;
- everything the chat iframe loads (the frame template's ``<link href>`` and
  ``<script src>``, images excluded) ≤ 60 KB gzip.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
LOADER = STATIC / "widget" / "loader.js"
FRAME_TEMPLATE = ROOT / "conversations" / "templates" / "conversations" / "widget" / "frame.html"

LOADER_BUDGET = 10 * 1024
FRAME_BUDGET = 60 * 1024

ASSET_RE = re.compile(r"""<(?:script[^>]*\bsrc|link[^>]*\bhref)=["']\{%\s*static\s+['"]([^'"]+)['"]\s*%\}["']""")


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def frame_template() -> str:
    text = FRAME_TEMPLATE.read_text(encoding="utf-8")
    return re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", "", text, flags=re.S)


def frame_assets() -> list[Path]:
    template = frame_template()
    return [STATIC / name for name in ASSET_RE.findall(template)]


def test_loader_is_at_most_10_kb_gzipped():
    size = gzip_size(LOADER.read_bytes())
    assert size <= LOADER_BUDGET, f"loader.js is {size} bytes gzipped (budget {LOADER_BUDGET})"


def test_frame_lists_its_assets_and_they_exist():
    assets = frame_assets()
    names = sorted(p.name for p in assets)
    assert names == ["frame.css", "frame.js"], names
    for path in assets:
        assert path.is_file(), path


def test_frame_assets_are_at_most_60_kb_gzipped():
    sizes = {path.name: gzip_size(path.read_bytes()) for path in frame_assets()}
    total = sum(sizes.values())
    assert total <= FRAME_BUDGET, f"iframe assets are {total} bytes gzipped (budget {FRAME_BUDGET}): {sizes}"


def test_frame_loads_nothing_else():
    """No other script, stylesheet, font or third-party URL in the frame page."""
    template = frame_template()
    tags = re.findall(r"<(?:script|link)\b[^>]*>", template)
    assert len(tags) == 2, tags
    assert "http://" not in template and "https://" not in template


def test_widget_code_calls_no_third_party():
    """Only the Charla origin (baked in / same-origin): no CDN, fonts, analytics.
    The only absolute URL is the OpenStreetMap *link* shown for a location."""
    for path in (LOADER, STATIC / "widget" / "frame.js", STATIC / "widget" / "frame.css"):
        urls = set(re.findall(r"https?://[A-Za-z0-9.-]+", path.read_text(encoding="utf-8")))
        assert urls <= {"https://www.openstreetmap.org"}, (path.name, urls)


def test_loader_is_es2018_without_modules_or_dependencies():
    source = LOADER.read_text(encoding="utf-8")
    assert "__CHARLA_ORIGIN__" in source
    assert not re.search(r"^\s*(import|export)\b", source, re.M)
    assert "require(" not in source
    # ES2020+ syntax the budget browsers may not parse
    assert "?." not in source and "??" not in source
