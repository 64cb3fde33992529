#!/usr/bin/env python3
"""Prints the storefront kit's sizes and fails when the tracker is over budget.

  tracker: Public/shoptrail.min.js, minified and gzipped as the server serves it (budget 2.5 KB: fail over 2,560 B)
  loader:  what the snippet puts in every page besides the page data: the async <script> tag (target <= 700 B)
  braze loader: Public/braze-loader.min.js, its own file for shops with braze.web_sdk (never in the tracker's budget)

Usage: python Tests/browser/size_check.py   (exit 1 over the limit)
"""
import base64
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT, LOADER_TARGET = 2560, 700


def tracker_sizes():
    minified = (ROOT / "Public" / "shoptrail.min.js").read_bytes()
    swift = (ROOT / "Sources" / "ShopTrail" / "Snippet" / "EmbeddedAssets.swift").read_text()
    gz = base64.b64decode(re.search(r'trackerGzipBase64 = "([^"]+)"', swift).group(1))
    return len((ROOT / "Public" / "shoptrail.js").read_bytes()), len(minified), len(gz)


def braze_loader_size() -> int:
    swift = (ROOT / "Sources" / "ShopTrail" / "Snippet" / "EmbeddedAssets.swift").read_text()
    return len(base64.b64decode(re.search(r'brazeLoaderGzipBase64 = "([^"]+)"', swift).group(1)))


def loader_size(snippet: str) -> int:
    """The rendered loader tag with its page data emptied: the fixed cost the snippet adds to every page."""
    tag = re.search(r'<script id="shoptrail" src="[^"]*" async data-config="[^"]*"></script>', snippet).group(0)
    return len(re.sub(r'data-config="[^"]*"', 'data-config=""', tag).encode())


def main() -> int:
    source, minified, gz = tracker_sizes()
    template = (ROOT / "Templates" / "shoptrail.liquid.mustache").read_text()
    tag = re.search(r'<script id="shoptrail" src="<%& src %>" async data-config="\{\{ st_config \| escape \}\}"></script>', template).group(0)
    loader = len(tag.replace("<%& src %>", "https://shoptrail.example.com/sdk/v1/shoptrail.js?v=0123456789ab").replace("{{ st_config | escape }}", "").encode())
    print(f"tracker source:          {source} B")
    print(f"tracker minified:        {minified} B")
    print(f"tracker minified+gzip:   {gz} B  (budget <= {LIMIT} B){'  OVER BUDGET' if gz > LIMIT else ''}")
    print(f"loader (async tag):      {loader} B  (target <= {LOADER_TARGET} B; page data comes on top)")
    print(f"braze loader, own file:  {braze_loader_size()} B min+gzip (web_sdk shops only, loaded after consent and load)")
    if gz > LIMIT:
        print(f"FAIL: the tracker is {gz} B min+gzip, over the {LIMIT} B limit")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
