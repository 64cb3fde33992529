"""The README's tour, run as written: every ```sh block of its tour section against the real binary.

The first block starts the server; it runs here as the binary under test (`swift run shoptrail` is
that binary) with a free port for the collector and for the Braze sandbox, in a temporary folder
that stands for the repository's working directory (`data/` is created there). The other blocks run
in bash with `localhost:8080` and `localhost:9090` pointed at those ports. Each block's ```output
lines must all appear in its output (`…` stands for anything); a block that only reads (no `-d`)
is run again until they do, within a generous deadline, since the abandonment window is real time.
"""
import os
import re
import subprocess
import time

from conftest import ROOT, Server, binary, free_port

README = ROOT / "README.md"
FENCE = re.compile(r"^```([A-Za-z]*)\n(.*?)^```[ \t]*$", re.M | re.S)
SERVE = "swift run shoptrail serve --config docs/tour/shoptrail.yml"


def tour_blocks():
    """[(commands, expected lines)] of the tour section, in order."""
    text = README.read_text()
    tour = text[text.index("## A five-minute tour"):]
    tour = tour[:tour.index("\n## ", 1)]
    fences = list(FENCE.finditer(tour))
    blocks = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "sh":
            continue
        following = fences[index + 1]
        assert following.group(1) == "output", f"a tour block without its output: {fence.group(2)}"
        blocks.append((fence.group(2).strip(), [line.strip() for line in following.group(2).splitlines() if line.strip()]))
    return blocks


def matches(output, expected):
    """Every expected line (pieces around `…`, in order) appears in the output."""
    for line in expected:
        position = 0
        for piece in (p.strip() for p in line.split("…")):
            if not piece:
                continue
            position = output.find(piece, position)
            if position < 0:
                return False
    return True


def test_every_command_of_the_readme_tour_runs_and_prints_what_the_readme_shows(tmp_path):
    blocks = tour_blocks()
    assert len(blocks) >= 5 and blocks[0][0] == SERVE
    port, sandbox = free_port(), free_port()
    server = Server(tmp_path, ["--config", str(ROOT / "docs" / "tour" / "shoptrail.yml"), "--port", str(port),
                               "--sandbox-port", str(sandbox)])
    try:
        server.wait_banner()
        banner = [line.replace(":8080", f":{port}").replace(":9090", f":{sandbox}") for line in blocks[0][1]]
        deadline = time.time() + 30
        while not matches(server.logs(), banner):
            assert time.time() < deadline, f"the banner is not as the README shows:\n{server.logs()}"
            time.sleep(0.1)
        env = dict(os.environ, PATH=os.path.dirname(binary()) + os.pathsep + os.environ["PATH"])
        for commands, expected in blocks[1:]:
            script = (commands.replace("swift run shoptrail", "shoptrail")
                      .replace("localhost:8080", f"localhost:{port}").replace("localhost:9090", f"localhost:{sandbox}"))
            retry = " -d " not in commands
            deadline = time.time() + 90
            while True:
                run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                                     capture_output=True, text=True, timeout=60)
                if run.returncode == 0 and matches(run.stdout, expected):
                    break
                assert retry and time.time() < deadline, (
                    f"README tour block\n{commands}\nexited {run.returncode}, printed:\n{run.stdout}{run.stderr}\nexpected:\n"
                    + "\n".join(expected))
                time.sleep(0.5)
    finally:
        assert server.stop() == 0


# Written by the Braze Web SDK work (issue 18, parts 1-4) on its own branch; linked from here already.
LATER_PAGES = {"docs/web-sdk.md"}


def test_every_relative_link_of_the_readme_and_docs_resolves():
    broken = []
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        text = FENCE.sub("", page.read_text())
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            resolved = (page.parent / target).resolve()
            if not resolved.exists() and str(resolved.relative_to(ROOT)) not in LATER_PAGES:
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken
