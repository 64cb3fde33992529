"""The marketer's guide (docs/marketers.md) is rendered against what the real binary sent to Braze.

Every ```liquid block of the guide is preceded by `<!-- example: event=NAME [naming=legacy] -->`
and followed by an ```expected block. The story of `braze_story.py` runs once per session; each
example is rendered with `braze_liquid` against the properties of the last `NAME` event Jane's
profile got in the Braze sandbox, and must give the expected text. A renamed or retyped property
therefore fails here. The example emails in docs/emails/ are rendered against the same events and
displayed in headless Chromium, and every property the story sent must be named in the guide.
"""
import re
from pathlib import Path

import pytest
from liquid.exceptions import UndefinedError

import braze_liquid
from braze_story import latest
from conftest import ROOT
from email_screenshots import chromium, event_of, photograph, render_emails

GUIDE = ROOT / "docs" / "marketers.md"
EMAILS = ROOT / "docs" / "emails"
FENCE = re.compile(r"^```([A-Za-z]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
MARKER = re.compile(r"<!--\s*example:\s*(.*?)-->", re.S)


def examples(text):
    """[(line, attributes, liquid source, expected text)] of every ```liquid block; refuses a block without marker or expectation."""
    fences = list(FENCE.finditer(text))
    found = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "liquid":
            continue
        line = text.count("\n", 0, fence.start()) + 1
        before = text[fences[index - 1].end() if index else 0:fence.start()]
        markers = MARKER.findall(before)
        assert markers, f"docs/marketers.md:{line}: a liquid example without an <!-- example: event=… --> marker"
        attributes = dict(pair.split("=", 1) for pair in markers[-1].split())
        following = fences[index + 1] if index + 1 < len(fences) else None
        assert following and following.group(1) == "expected", f"docs/marketers.md:{line}: a liquid example without an ```expected block"
        found.append((line, attributes, fence.group(2), following.group(2)))
    return found


def render_example(story, attributes, source):
    naming = attributes.get("naming", "ecommerce")
    properties = latest(story, naming, attributes["event"])
    return braze_liquid.render(source, properties, story[naming]["attributes"])


GUIDE_EXAMPLES = examples(GUIDE.read_text())


def test_the_guide_has_an_example_for_every_snippet_it_promises():
    events = {attributes["event"] for _, attributes, _, _ in GUIDE_EXAMPLES}
    assert len(GUIDE_EXAMPLES) >= 12
    assert {"ecommerce.product_viewed", "ecommerce.cart_updated", "ecommerce.checkout_started", "ecommerce.order_placed",
            "shoptrail_browse_abandoned", "shoptrail_cart_abandoned", "shoptrail_checkout_abandoned",
            "shopify_abandoned_cart", "shopify_abandoned_checkout"} <= events


@pytest.mark.parametrize("line,attributes,source,expected", GUIDE_EXAMPLES, ids=[f"line{e[0]}" for e in GUIDE_EXAMPLES])
def test_each_liquid_example_renders_as_documented(braze_story, line, attributes, source, expected):
    rendered = render_example(braze_story, attributes, source)
    assert braze_liquid.normalised(rendered) == braze_liquid.normalised(expected), f"docs/marketers.md:{line}\n{rendered}"


@pytest.mark.parametrize("path", sorted(EMAILS.glob("*.liquid")), ids=lambda p: p.name)
def test_each_example_email_renders_with_the_products_of_its_event(braze_story, path: Path):
    source = path.read_text()
    event = event_of(source)
    html = render_example(braze_story, {"event": event}, source)
    properties = latest(braze_story, "ecommerce", event)
    for product in properties.get("products") or [properties]:
        assert product["product_name"] in html
    assert "Jane" in html and "https://fixture-shop.myshopify.com/" in html


def test_a_renamed_property_breaks_the_example_that_reads_it(braze_story):
    # The story's payload with `product_name` renamed, as a change in the mapper would send it.
    line, attributes, source, expected = next(e for e in GUIDE_EXAMPLES if "${product_name}" in e[2])
    renamed = {naming: dict(data) for naming, data in braze_story.items()}
    naming = attributes.get("naming", "ecommerce")
    events = dict(renamed[naming]["events"])
    properties = latest(braze_story, naming, attributes["event"])
    properties["title"] = properties.pop("product_name")
    events[attributes["event"]] = [properties]
    renamed[naming]["events"] = events
    with pytest.raises(UndefinedError, match="product_name"):
        render_example(renamed, attributes, source)


def property_paths(value, prefix=""):
    """`a`, `a.b` for objects and `a[].b` for lists of objects: how the guide's tables name properties.
    An object is named through its members (`metadata.sku`), so it is not a path of its own."""
    paths = set()
    for key, item in value.items():
        path = prefix + key
        if not isinstance(item, dict):
            paths.add(path)
        if isinstance(item, dict):
            paths |= property_paths(item, path + ".")
        elif isinstance(item, list):
            for element in item:
                if isinstance(element, dict):
                    paths |= property_paths(element, path + "[].")
    return paths


def sections(text, name):
    """The text under every heading that names `name` in backticks, up to the next heading."""
    found = []
    for match in re.finditer(r"^#{2,4} .*`" + re.escape(name) + r"`.*$", text, re.M):
        rest = text[match.end():]
        following = re.search(r"^#{1,4} ", rest, re.M)
        found.append(rest[:following.start()] if following else rest)
    return "\n".join(found)


def undocumented(section, paths):
    # A path counts as documented when the section names it whole, or (in prose lists) names its last key.
    def named(path):
        leaf = re.split(r"\.|\[\]\.", path)[-1]
        return f"`{path}`" in section or f"`{leaf}`" in section
    return sorted(p for p in paths if not named(p))


def test_the_guide_documents_every_property_and_attribute_the_story_sent(braze_story):
    text = GUIDE.read_text()
    missing = {}
    for naming, data in braze_story.items():
        for name, occurrences in data["events"].items():
            section = sections(text, name)
            assert section, f"docs/marketers.md has no section for {name} ({naming})"
            paths = set().union(*(property_paths(p) for p in occurrences))
            if undocumented(section, paths):
                missing[name] = undocumented(section, paths)
        purchases = text[text.index("#### Purchases"):text.index("### Customer attributes")]
        purchase_paths = set().union(set(), *(property_paths(p) for p in data["purchases"])) - {"external_id", "time"}
        if undocumented(purchases, purchase_paths):
            missing[f"purchases ({naming})"] = undocumented(purchases, purchase_paths)
        attributes = undocumented(text[text.index("### Customer attributes"):text.index("## Canvas recipes")], set(data["attributes"]))
        if attributes:
            missing[f"attributes ({naming})"] = attributes
    assert not missing, f"properties sent to Braze that docs/marketers.md does not name: {missing}"


def test_the_example_emails_display_in_headless_chromium_and_have_their_screenshots(braze_story, tmp_path):
    # The same code as scripts/docs-screenshots, written to a temporary folder instead of docs/img/.
    driver = chromium()
    try:
        shots = photograph(driver, render_emails(braze_story, tmp_path / "emails"), tmp_path / "img")
    finally:
        driver.quit()
    assert [png.name for png, _, _ in shots] == [f"email-{p.stem}.png" for p in sorted(EMAILS.glob("*.liquid"))]
    for png, text, loaded in shots:
        assert loaded, f"an image of {png.name} did not display"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "Hi Jane" in text and "Merino Crew Sweater" in text
        assert (ROOT / "docs" / "img" / png.name).exists(), f"docs/img/{png.name} is missing: run scripts/docs-screenshots"
