"""Photographs the example emails of docs/emails/ in headless Chromium, rendered from the story's Braze events.

The templates are rendered with `braze_liquid` against the events `braze_story` made the real
binary send; the product images they name (Shopify's CDN, unreachable here) are swapped for local
SVG placeholders labelled with the product's name, so the pictures show the layout, not a broken
image. `scripts/docs-screenshots` writes the PNGs to docs/img/; the browser test writes them to a
temporary folder and checks what Chromium displayed.
"""
import html
import re
import shutil
from pathlib import Path

import braze_liquid
from braze_story import latest

ROOT = Path(__file__).resolve().parents[2]
EMAILS = ROOT / "docs" / "emails"
IMAGE = re.compile(r'https://cdn\.shopify\.com/[^"\s]+?/([A-Za-z0-9_-]+)\.(?:jpg|png)')
COLOURS = ["#3b4a6b", "#5a5a5a", "#7a5c3e", "#2f5d50"]


def event_of(template: str) -> str:
    return re.search(r"\{%-? comment -?%\}\s*event:\s*(\S+)", template).group(1)


def placeholder(folder: Path, name: str, label: str, index: int) -> str:
    """A local SVG standing for a product photo; returns its file URL."""
    path = folder / f"{name}.svg"
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="560" height="560" viewBox="0 0 560 560">'
                    f'<rect width="560" height="560" fill="{COLOURS[index % len(COLOURS)]}"/>'
                    f'<text x="280" y="290" fill="#fff" font-family="Helvetica,Arial" font-size="34" text-anchor="middle">'
                    f'{html.escape(label)}</text></svg>')
    return path.as_uri()


def render_emails(story, folder: Path):
    """[(template name, html file)] of every example email, rendered into `folder` with placeholder images."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for template in sorted(EMAILS.glob("*.liquid")):
        source = template.read_text()
        properties = latest(story, "ecommerce", event_of(source))
        page = braze_liquid.render(source, properties, story["ecommerce"]["attributes"])
        labels = {}
        for product in (properties.get("products") or []) + [properties]:
            if product.get("image_url"):
                labels[product["image_url"]] = product.get("product_name", "")
        page = IMAGE.sub(lambda m: placeholder(folder, m.group(1), labels.get(m.group(0), m.group(1)), list(labels).index(m.group(0))
                                               if m.group(0) in labels else 0), page)
        path = folder / (template.stem + ".html")
        path.write_text(page)
        pages.append((template.stem, path))
    return pages


def photograph(driver, pages, out: Path):
    """Screenshots of each page at e-mail width and full height; returns [(png path, visible text, images loaded)]."""
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    for name, path in pages:
        # A short viewport first, so that the page's scroll height is its content's; then the viewport is set to it.
        metrics = {"width": 600, "height": 100, "deviceScaleFactor": 1, "mobile": False}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        driver.get(path.as_uri())
        metrics["height"] = min(driver.execute_script("return document.documentElement.scrollHeight"), 3000)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        loaded = driver.execute_script("return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        text = driver.execute_script("return document.body.innerText")
        png = out / f"email-{name}.png"
        driver.save_screenshot(str(png))
        shots.append((png, text, loaded))
    return shots


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver") or "/usr/lib/chromium/chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars",
                 "--allow-file-access-from-files"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    return driver
