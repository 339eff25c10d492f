"""``storeops`` — the command line: run the service, apply migrations, apply or repair 1C's stock."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from app import log_privacy
from app.backups import add_commands as add_backup_commands
from app.backups import backup_command, restore_command
from app.bootstrap import build, settle_start_up
from app.http.views import stock_result_view
from app.sandbox.database import SandboxDatabaseError, requested_database
from app.service import RunningService
from app.settings import ConfigurationError, Settings, load_settings
from app.topology import load_topology
from integrations.commerceml import (
    CommerceMLError,
    NoOffersPackage,
    StockPackage,
    intake_lines,
    intake_totals,
    parse_stock,
    stock_time,
)
from integrations.commerceml_catalogue import CataloguePackage, parse_catalogue
from storage.database import open_database
from storage.migrate import migrate
from storage.sqlite_backup import BackupError, claim, database_file
from workflows.catalogue import CatalogueResult
from workflows.errors import WorkflowError
from workflows.ledger import StockUpdateResult
from workflows.onec_intake import StockSource
from workflows.ports import OneCProduct
from workflows.topology import Topology

log = logging.getLogger("storeops")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="storeops", description="Keeps a shop's stock true on every channel.")
    parser.add_argument("--env-file", default=".env", help="file of environment settings (default: .env)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="the service: HTTP API and scheduler (migrates first)")
    commands.add_parser("migrate", help="apply database migrations and exit")
    commands.add_parser("check-config", help="validate settings and the topology file, then exit")
    _sandbox_options(commands)
    _onec_files(commands)
    clear = commands.add_parser("clear-stock-time", help="forget when 1C computed an article's stock (a wrong as_of)")
    clear.add_argument("sku", help="the article whose rows' as_of is reset, so 1C's next figure applies")
    clear.add_argument("--warehouse", metavar="CODE", help="only this warehouse's row (our code)")
    add_backup_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        return _sandbox_command(args)
    try:
        settings = load_settings(args.env_file)
        _configure_logging(settings)
        if args.command == "migrate":
            asyncio.run(_migrate(settings))
        elif args.command == "import-commerceml":
            return _import_commerceml(settings, args.file)
        elif args.command == "catalogue":
            return _unmapped(settings)
        elif args.command == "clear-stock-time":
            return _clear_stock_time(settings, args.sku, args.warehouse)
        elif args.command == "backup":
            return backup_command(settings, args.file)
        elif args.command == "restore":
            return restore_command(settings, args.file, force=args.force)
        elif args.command == "check-config":
            topology = load_topology(settings.config_path)
            print(f"ok: {len(topology.warehouses)} warehouses, channels: {', '.join(topology.channels)}")
        else:
            return _run_claimed(settings)
    except ConfigurationError as error:
        print(f"storeops: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _sandbox_options(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sandbox = commands.add_parser("sandbox", help="the service plus emulators of every outside system, on 127.0.0.1")
    sandbox.add_argument(
        "--host", default="127.0.0.1", help="where the console listens; it has no login (default: 127.0.0.1)"
    )
    sandbox.add_argument(
        "--port", type=int, default=8080, help="the console's port; 0 picks a free one (default: 8080)"
    )
    sandbox.add_argument("--locale", choices=("ru", "en"), default="ru", help="language of chat texts (default: ru)")
    sandbox.add_argument(
        "--database-url", type=_sandbox_database, metavar="URL",
        help="a PostgreSQL server (postgresql+asyncpg://user@host:5432) to create the sandbox's own database on, "
        "dropped on exit, or a new SQLite file (sqlite+aiosqlite:///path); default: SQLite in a temporary directory",
    )  # fmt: skip
    sandbox.add_argument(
        "--access-log", action="store_true",
        help="log every HTTP request (off by default: the open console asks for its state every second)",
    )  # fmt: skip


def _sandbox_command(args: argparse.Namespace) -> int:
    """The sandbox is its own world: no .env, no tokens, every outside system emulated."""
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run drowns the rest
    if not args.access_log:  # a line per console refresh drowns the rest; a request's errors are logged apart
        logging.getLogger("storeops.access").setLevel(logging.WARNING)
    log_privacy.install()
    try:
        return _sandbox(args.host, args.port, args.locale, args.database_url)
    except KeyboardInterrupt:
        return 130
    except SandboxDatabaseError as error:
        print(f"storeops sandbox: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"storeops sandbox: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1


def _onec_files(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imports = commands.add_parser(
        "import-commerceml",
        help="apply 1C stock from a CommerceML offers.xml / rests.xml, or its catalogue (import.xml)",
    )
    imports.add_argument("file", type=Path)
    catalogue = commands.add_parser("catalogue", help="1C's catalogue as storeops holds it")
    catalogue.add_argument(
        "--unmapped", action="store_true", required=True,
        help="list 1C's products with no article (their 1C guid stands in as the SKU): give them one in 1C",
    )  # fmt: skip


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger().level))
    log_privacy.install()


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _import_commerceml(settings: Settings, path: Path) -> int:
    """A file at hand, applied as the exchange would apply it: all or nothing."""
    topology = load_topology(settings.config_path)
    try:
        with path.open("rb") as file:  # read as a stream: memory grows with the figures, not the file
            try:
                package = parse_stock(file)
            except NoOffersPackage:
                file.seek(0)
                return _import_catalogue(settings, topology, path, parse_catalogue(file))
        as_of = stock_time(package)
    except OSError as error:
        print(f"storeops: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 1
    except CommerceMLError as error:
        print(f"storeops: {path}: {error.reason}; nothing applied", file=sys.stderr)
        return 1
    try:
        result = asyncio.run(_apply_stock(settings, topology, as_of, package))
    except WorkflowError as error:
        print(f"storeops: {path}: {error.message}", file=sys.stderr)
        return 1
    totals = len(package.totals_without_warehouse)
    summary = {**stock_result_view(result), "warnings": package.warnings, "totals_without_warehouse": totals,
               "totals_placed_in": topology.onec.totals_warehouse if totals else None}  # fmt: skip
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def _import_catalogue(settings: Settings, topology: Topology, path: Path, package: CataloguePackage) -> int:
    """1C's catalogue at hand, kept as the exchange keeps it; the stock that waited for it is applied."""

    async def learn() -> CatalogueResult:
        services = await build(settings, topology)
        try:
            assert services.shop.catalogue is not None
            return await services.shop.catalogue.learn(package.products)
        finally:
            await services.close()

    try:
        result = asyncio.run(learn())
    except WorkflowError as error:
        print(f"storeops: {path}: {error.message}", file=sys.stderr)
        return 1
    summary = {"products": result.products, "without_article": len(result.without_article),
               "released": stock_result_view(result.released), "still_held": result.still_held}  # fmt: skip
    print(json.dumps(summary, ensure_ascii=False))
    return 0


async def _apply_stock(
    settings: Settings, topology: Topology, as_of: datetime, package: StockPackage
) -> StockUpdateResult:
    services = await build(settings, topology)
    try:
        return await services.shop.intake.apply(StockSource.FILE, as_of, intake_lines(package), intake_totals(package))
    finally:
        await services.close()


def _unmapped(settings: Settings) -> int:
    """1C's products without an article, one JSON object a line: 1C's id (the SKU their stock goes under) and
    name."""
    topology = load_topology(settings.config_path)

    async def listed() -> list[OneCProduct]:
        services = await build(settings, topology)
        try:
            assert services.shop.catalogue is not None
            return await services.shop.catalogue.unmapped()
        finally:
            await services.close()

    for product in asyncio.run(listed()):
        print(json.dumps({"onec_id": product.onec_id, "name": product.name}, ensure_ascii=False))
    return 0


def _clear_stock_time(settings: Settings, sku: str, warehouse: str | None) -> int:
    """A wrong as_of stored for ``sku`` (one far ahead makes every true figure stale): reset, quantities kept."""
    topology = load_topology(settings.config_path)

    async def clear() -> int:
        services = await build(settings, topology)
        try:
            return await services.shop.ledger.clear_stock_time(sku, warehouse)
        finally:
            await services.close()

    try:
        cleared = asyncio.run(clear())
    except WorkflowError as error:
        print(f"storeops: {error.message}", file=sys.stderr)
        return 1
    if cleared == 0:
        print(f"storeops: no stock of {sku!r}{f' in {warehouse!r}' if warehouse else ''} is held", file=sys.stderr)
        return 1
    print(json.dumps({"sku": sku, "warehouse": warehouse, "rows_cleared": cleared}, ensure_ascii=False))
    return 0


async def _migrate(settings: Settings) -> None:
    database = open_database(settings.database.url, busy_timeout_ms=settings.database.busy_timeout_ms)
    try:
        await migrate(database)
    finally:
        await database.dispose()
    print(f"migrated {_safe_url(settings.database.url)} to the newest schema")


def _run_claimed(settings: Settings) -> int:
    """The service, holding its SQLite file's claim while it runs: one service per file, and no restore under it."""
    database = database_file(settings.database.url)
    if database is None:
        asyncio.run(_run(settings))
        return 0
    try:
        with claim(database, "storeops run"):
            asyncio.run(_run(settings))
    except BackupError as error:
        print(f"storeops: {error}", file=sys.stderr)
        return 1
    return 0


async def _run(settings: Settings) -> None:
    topology = load_topology(settings.config_path)
    if settings.http.api_token is None:
        raise ConfigurationError(
            "configuration error:\n  API_TOKEN: not set; the JSON API needs a bearer token "
            "(put API_TOKEN=<a long random string> in .env)"
        )
    services = await build(settings, topology)
    try:
        async with RunningService(services) as running:
            settle_start_up()
            print(
                f"storeops listening on {running.url} "
                f"(database {_safe_url(settings.database.url)}, topology {settings.config_path}); Ctrl-C stops",
                flush=True,
            )
            await _until_stopped()
            log.info("stopping")
    finally:
        await services.close()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def _sandbox_database(text: str) -> URL:
    try:
        return requested_database(text)
    except SandboxDatabaseError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _sandbox(host: str, port: int, locale: str, database: URL | None) -> int:
    # the sandbox's world (every emulator, the console, the demo shop) is loaded for this command only:
    # ``storeops run`` holds none of it in memory
    from app.sandbox.local_only import EXPOSED_WARNING, exposed
    from app.sandbox.world import Sandbox

    if exposed(host):
        log.warning(EXPOSED_WARNING, host)

    async def serve() -> None:
        # SIGTERM while starting cancels the start, which removes the database made so far (Ctrl-C does already)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, _cancel(asyncio.current_task()))
        async with Sandbox(host=host, port=port, locale=locale, database=database) as sandbox:
            print(f"storeops sandbox ready: {sandbox.console_url} (Ctrl-C stops)", flush=True)
            await _until_stopped()
            log.info("stopping the sandbox")

    try:
        asyncio.run(serve())
    except asyncio.CancelledError:  # by SIGTERM before it was ready
        return 128 + signal.SIGTERM
    return 0


def _cancel(task: asyncio.Task[None] | None) -> Callable[[], None]:
    def cancel() -> None:
        if task is not None:
            task.cancel()

    return cancel


if __name__ == "__main__":
    sys.exit(main())
