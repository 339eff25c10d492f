"""The browser pages (sandbox console, operator's dashboard) and the files they load.

``STATIC`` is served at ``/static/``; the pages are plain ES modules with Preact + htm vendored
under ``static/vendor/``: no build step, nothing fetched from a CDN at run time.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
