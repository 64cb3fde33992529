#!/usr/bin/env python3
"""Measures the main-thread time the tracker takes on a product page load, in headless Chromium.

Two views, both printed:
- Chromium's CPU profiler (DevTools Profiler domain, 50 us sampling): the time of every sample whose
  JavaScript stack is inside shoptrail.js, from navigation to 3 s after load (tracker start, consent,
  cart read, batching, beacon);
- the Performance API: the Resource Timing entry of /sdk/v1/shoptrail.js (fetch duration, bytes on the
  wire) and the page's load event time.

Usage: SHOPTRAIL_BIN=.build-kit/debug/shoptrail .venv/bin/python Tests/browser/measure_main_thread.py [runs]
"""
import statistics
import sys
import tempfile
import time

DEBUG = False  # True prints the hottest functions of each profile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import Kit, chromium_paths  # noqa: E402


def tracker_ms(profile):
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}

    def in_tracker(node_id):
        while node_id is not None:
            if "shoptrail.js" in nodes[node_id]["callFrame"].get("url", ""):
                return True
            node_id = parent.get(node_id)
        return False

    memo = {}
    total = 0
    if DEBUG:
        from collections import Counter
        c = Counter()
        for sample, delta in zip(profile["samples"], profile["timeDeltas"][1:] + [0]):
            f = nodes[sample]["callFrame"]
            c[(f["functionName"], f.get("url", "")[-40:], in_tracker(sample))] += delta
        print(c.most_common(12))
    for sample, delta in zip(profile["samples"], profile["timeDeltas"][1:] + [0]):
        if sample not in memo:
            memo[sample] = in_tracker(sample)
        if memo[sample]:
            total += delta
    return total / 1000.0


def main(runs=5):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    kit = Kit(Path(tempfile.mkdtemp(prefix="shoptrail-perf-")))
    try:
        sf = kit.storefront("direct")
        browser, driver_path = chromium_paths()
        results = []
        for _ in range(runs):
            options = webdriver.ChromeOptions()
            options.binary_location = browser
            for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
                options.add_argument(flag)
            d = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
            try:
                d.get(sf.origin + "/__settings?privacy=")  # same origin first, so the profiler stays on this renderer
                d.execute_cdp_cmd("Profiler.enable", {})
                d.execute_cdp_cmd("Profiler.setSamplingInterval", {"interval": 50})
                d.execute_cdp_cmd("Profiler.start", {})
                d.get(sf.origin + "/products/linen-shirt")
                time.sleep(3)
                profile = d.execute_cdp_cmd("Profiler.stop", {})["profile"]
                perf = d.execute_script("""
                    var r = performance.getEntriesByType('resource').filter(function (e) { return e.name.indexOf('/sdk/v1/shoptrail.js') >= 0; })[0];
                    var n = performance.getEntriesByType('navigation')[0];
                    return { fetch: r ? r.duration : null, transfer: r ? r.transferSize : null, encoded: r ? r.encodedBodySize : null, load: n.loadEventEnd };""")
                results.append((tracker_ms(profile), perf))
            finally:
                d.quit()
        cpu = [r[0] for r in results]
        print(f"tracker main-thread time on a product page load ({runs} runs, CPU profiler): "
              f"median {statistics.median(cpu):.2f} ms, max {max(cpu):.2f} ms, runs {', '.join(f'{x:.2f}' for x in cpu)}")
        p = results[-1][1]
        print(f"Performance API: shoptrail.js fetched in {p['fetch']:.1f} ms, {p['encoded']} B encoded body "
              f"({p['transfer']} B transferred), page load event at {p['load']:.0f} ms")
        return cpu
    finally:
        kit.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
