"""Headless Chromium for the console's browser tests: Debian's `chromium` package.

No browser build is downloaded (`playwright install` cannot reach its CDN here): the tests drive
the distribution's binary through Playwright's `executable_path`. Like PostgreSQL
(`postgres.py`), the package is installed with `apt-get` when the stack runs as root and finds
none.

    python -m whistle_stack.browser      # prints the path, installing chromium if needed
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
ENV = "WHISTLE_CHROMIUM"  # an explicit browser binary wins


def find() -> str | None:
    """The Chromium binary: $WHISTLE_CHROMIUM, a Debian path, or one on PATH."""
    explicit = os.environ.get(ENV)
    if explicit:
        return explicit if Path(explicit).exists() else None
    for path in CANDIDATES:
        if Path(path).exists():
            return path
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _install() -> None:
    """apt-get install chromium (root only; quietly nothing otherwise)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium",
               "fonts-noto-cjk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(install, env=env, capture_output=True)


def ensure_chromium() -> str | None:
    """The Chromium binary, installed from Debian's packages when missing (as root).

    None when there is none and it cannot be installed: callers skip browser tests with
    a message naming the package."""
    found = find()
    if found is None:
        _install()
        found = find()
    return found


def main() -> None:
    path = ensure_chromium()
    if path is None:
        sys.exit("chromium not found: install Debian's `chromium` package "
                 "(apt-get install chromium) or set WHISTLE_CHROMIUM")
    print(path)


if __name__ == "__main__":
    main()
