"""The Slack app manifest in deploy/ asks for what the app uses: the scopes the bot's calls need and the
Request URL path the service serves."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import yaml

MANIFEST = Path(__file__).parents[2] / "deploy" / "slack-app-manifest.yml"
SERVER = Path(__file__).parents[2] / "app" / "http" / "server.py"


def test_the_manifest_points_interactivity_at_the_route_the_service_serves() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    path = urlparse(interactivity["request_url"].replace("<your host>", "shop.example")).path
    assert path == "/slack/events"
    assert f'"{path}"' in SERVER.read_text()  # the route create_app registers


def test_the_manifest_grants_the_scopes_the_bot_posts_and_updates_with() -> None:
    scopes = set(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "chat:write.public"} <= scopes  # chat.postMessage / chat.update in store channels
    assert "users:read" in scopes  # users.info: who answered, by name
    assert {"channels:history", "groups:history"} <= scopes  # conversations.history: a question posted unheard
