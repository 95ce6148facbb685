"""Open a report in headless Chromium, save a screenshot, and check that its plots show.

    python benchmarks/report_screenshot.py alignlab-demo/report.html [--out shot.png]

Chromium (Debian's ``chromium`` package) renders the page at 1200 px wide; the check
counts, in the screenshot, the pixels of the colour every plot draws its first series in
(matplotlib's ``#1f77b4``): a page whose images failed to load has none.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PLOT_BLUE = np.array([0x1F, 0x77, 0xB4]) / 255


def screenshot(page: Path, out: Path, height: int = 6000) -> Path:
    """Render ``page`` with headless Chromium into the PNG ``out``."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("no chromium on PATH (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                f"--window-size=1200,{height}",
                f"--screenshot={out.resolve()}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return out


def plot_pixels(png: Path) -> int:
    """Pixels within a small distance of the plots' first colour."""
    import matplotlib.image

    image = matplotlib.image.imread(png)[..., :3]
    return int((np.abs(image - PLOT_BLUE).max(axis=-1) < 0.04).sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("report", type=Path)
    parser.add_argument("--out", type=Path, default=Path("report-screenshot.png"))
    args = parser.parse_args()
    shot = screenshot(args.report, args.out)
    pixels = plot_pixels(shot)
    print(f"screenshot: {shot} ({shot.stat().st_size / 1024:.0f} KiB); plot pixels: {pixels}")
    sys.exit(0 if pixels > 2000 else 1)


if __name__ == "__main__":
    main()
