"""``storeops`` — the command line: run the service, apply migrations."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from aiogram.exceptions import TelegramAPIError
from aiohttp import web
from sqlalchemy.engine import make_url

from app.bootstrap import build
from app.http.server import create_app
from app.http.views import stock_result_view
from app.scheduler import build_scheduler
from app.settings import ConfigurationError, Settings, load_settings
from app.topology import load_topology
from bot.slack.app import start_socket_mode, stop_socket_mode
from bot.telegram.app import register_commands, start_polling
from integrations.commerceml import CommerceMLError, parse_stock, stock_time, to_figures
from storage.database import open_database
from storage.migrate import migrate
from workflows.ledger import StockUpdateResult
from workflows.model import StockFigure
from workflows.topology import Topology

log = logging.getLogger("storeops")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="storeops", description="Keeps a shop's stock true on every channel.")
    parser.add_argument("--env-file", default=".env", help="file of environment settings (default: .env)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="the service: HTTP API and scheduler (migrates first)")
    commands.add_parser("migrate", help="apply database migrations and exit")
    commands.add_parser("check-config", help="validate settings and the topology file, then exit")
    imports = commands.add_parser("import-commerceml", help="apply 1C stock from a CommerceML offers.xml / rests.xml")
    imports.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.env_file)
        _configure_logging(settings)
        if args.command == "migrate":
            asyncio.run(_migrate(settings))
        elif args.command == "import-commerceml":
            return _import_commerceml(settings, args.file)
        elif args.command == "check-config":
            topology = load_topology(settings.config_path)
            print(f"ok: {len(topology.warehouses)} warehouses, channels: {', '.join(topology.channels)}")
        else:
            asyncio.run(_run(settings))
    except ConfigurationError as error:
        print(f"storeops: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _import_commerceml(settings: Settings, path: Path) -> int:
    """A file at hand, applied as the exchange would apply it: all or nothing."""
    topology = load_topology(settings.config_path)
    try:
        package = parse_stock(path.read_bytes())
    except OSError as error:
        print(f"storeops: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 1
    except CommerceMLError as error:
        print(f"storeops: {path}: {error.reason}; nothing applied", file=sys.stderr)
        return 1
    figures, unknown = to_figures(package, topology)
    if unknown:
        names = ", ".join(sorted(unknown))
        print(f"storeops: {path}: 1C warehouses not in the topology: {names}; nothing applied", file=sys.stderr)
        return 1
    result = asyncio.run(_apply_stock(settings, topology, figures, stock_time(package, topology.onec.timezone)))
    summary = {**stock_result_view(result), "warnings": package.warnings,
               "totals_without_warehouse": len(package.totals_without_warehouse)}  # fmt: skip
    print(json.dumps(summary, ensure_ascii=False))
    return 0


async def _apply_stock(
    settings: Settings, topology: Topology, figures: list[StockFigure], as_of: datetime
) -> StockUpdateResult:
    services = await build(settings, topology)
    try:
        result = await services.ledger.apply_stock(as_of, figures)
        await services.operations.onec_heard()
        await services.operations.report_stock(figures, result.shortfalls)
    finally:
        await services.close()
    return result


async def _migrate(settings: Settings) -> None:
    database = open_database(settings.database.url, busy_timeout_ms=settings.database.busy_timeout_ms)
    try:
        await migrate(database)
    finally:
        await database.dispose()
    print(f"migrated {_safe_url(settings.database.url)} to the newest schema")


async def _run(settings: Settings) -> None:
    topology = load_topology(settings.config_path)
    if settings.http.api_token is None:
        raise ConfigurationError(
            "configuration error:\n  API_TOKEN: not set; the JSON API needs a bearer token "
            "(put API_TOKEN=<a long random string> in .env)"
        )
    services = await build(settings, topology)
    runner = web.AppRunner(create_app(services), access_log=logging.getLogger("storeops.access"))
    await runner.setup()
    scheduler = build_scheduler(services)
    scheduler.start()
    socket_mode = None
    polling: asyncio.Task[None] | None = None
    try:
        app_token = settings.slack.app_token
        if services.slack_app is not None and app_token is not None:
            socket_mode = await start_socket_mode(services.slack_app, app_token.get_secret_value())
        if services.telegram_bot is not None and topology.people.owner_telegram_id is None:
            log.warning("TELEGRAM_BOT_TOKEN is set but [people] owner_telegram_id is not: alerts reach nobody")
        if services.telegram_bot is not None and services.telegram_dispatcher is not None:
            try:
                await register_commands(services.telegram_bot, settings.business.locale)
            except (TelegramAPIError, OSError) as error:  # the bot still works; the menu comes next start
                log.warning("telegram: could not register the command menu: %s", error)
            if settings.telegram.mode == "polling":
                polling = asyncio.create_task(start_polling(services.telegram_dispatcher, services.telegram_bot))
        site = web.TCPSite(runner, settings.http.host, settings.http.port)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        print(
            f"storeops listening on http://{settings.http.host}:{settings.http.port} "
            f"(database {_safe_url(settings.database.url)}, topology {settings.config_path}); Ctrl-C stops",
            flush=True,
        )
        await stop.wait()
        log.info("stopping")
    finally:
        if polling is not None:
            polling.cancel()  # ends the long poll at once; aiogram closes its polling cleanly
            await asyncio.gather(polling, return_exceptions=True)
        if socket_mode is not None:
            await stop_socket_mode(socket_mode)
        scheduler.shutdown(wait=False)
        await runner.cleanup()
        await services.close()


if __name__ == "__main__":
    sys.exit(main())
