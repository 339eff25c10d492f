"""The service's aiohttp server: the JSON API, health, and (later) the bots' webhooks."""
