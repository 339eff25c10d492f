"""The SQL unit of work: one connection, one transaction, rolled back unless committed.

On SQLite a writing unit of work is a savepoint in the transaction of a batch of writers (group commit,
storage/group_commit.py): to the code using it, it is still its own transaction — its commit returns once its
work is on disk, a rollback undoes only its own work.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection

from storage.box_repositories import SqlBoxBook
from storage.catalogue_repositories import SqlOneCCatalogue
from storage.crm_repositories import SqlCrmExports
from storage.customs_repositories import SqlCustomsBook
from storage.database import Database
from storage.gateway_payment_repositories import SqlGatewayPayments
from storage.group_commit import Turn, open_savepoint, release_savepoint, rollback_to_savepoint
from storage.lease_repositories import SqlInstances, SqlLeases
from storage.money_repositories import SqlMoneyBook
from storage.office_repositories import SqlAlerts, SqlFxRates, SqlLocks, SqlPayments
from storage.order_action_repositories import SqlOrderActions
from storage.order_event_repositories import SqlHeardOrderEvents
from storage.outbox import PRICES, SqlOutbox
from storage.payment_watch_repositories import SqlPaymentWatches
from storage.price_repositories import SqlPriceBook
from storage.repositories import SqlOfferIds, SqlOrders, SqlReservations, SqlStockLevels
from storage.return_repositories import SqlReturnRecords
from storage.shipment_repositories import SqlShipments
from storage.state_repositories import SqlChannelStates, SqlHeartbeats, SqlReportDeliveries
from storage.task_repositories import SqlDeadlines, SqlNotices, SqlTasks
from workflows.ports import CommitHooks


class SqlUnitOfWork:
    def __init__(
        self,
        database: Database,
        *,
        read_only: bool = False,
        hooks: CommitHooks | None = None,
    ) -> None:
        self._database = database
        self._read_only = read_only
        self._hooks = hooks or CommitHooks()
        self._touched: set[str] = set()
        self._urgent: set[str] = set()  # of those, changed by an order
        self._connection: AsyncConnection | None = None
        self._turn: Turn | None = None  # SQLite: this writer's place in a batch

    async def __aenter__(self) -> Self:
        writers = self._database.writers
        try:
            if writers is not None and not self._read_only:
                self._turn, self._connection = await writers.turn()
                open_savepoint(self._connection)
            else:
                engine = self._database.read_engine if self._read_only else self._database.engine
                self._connection = await engine.connect()
                await self._connection.begin()
        except BaseException:
            await self._finish()
            raise
        self._touched, self._urgent = set(), set()
        self.stock = SqlStockLevels(self._connection, self._touched, self._urgent)
        self.reservations = SqlReservations(self._connection, self._touched, self._urgent)
        self.orders = SqlOrders(self._connection)
        self.offer_ids = SqlOfferIds(self._connection)
        self.tasks = SqlTasks(self._connection)
        self.deadlines = SqlDeadlines(self._connection)
        self.notices = SqlNotices(self._connection)
        self.payments = SqlPayments(self._connection)
        self.payment_watches = SqlPaymentWatches(self._connection)
        self.gateway_payments = SqlGatewayPayments(self._connection)
        self.alerts = SqlAlerts(self._connection)
        self.fx = SqlFxRates(self._connection)
        self.channel_states = SqlChannelStates(self._connection)
        self.heartbeats = SqlHeartbeats(self._connection)
        self.report_deliveries = SqlReportDeliveries(self._connection)
        self.locks = SqlLocks(self._connection)
        self.outbox = SqlOutbox(self._connection)
        self.price_outbox = SqlOutbox(self._connection, PRICES)
        self.prices = SqlPriceBook(self._connection)
        self.shipments = SqlShipments(self._connection)
        self.heard_order_events = SqlHeardOrderEvents(self._connection)
        self.order_actions = SqlOrderActions(self._connection)
        self.returns = SqlReturnRecords(self._connection, self._touched, self._urgent)
        self.crm_exports = SqlCrmExports(self._connection)
        self.onec_catalogue = SqlOneCCatalogue(self._connection)
        self.instances = SqlInstances(self._connection)
        self.leases = SqlLeases(self._connection)
        self.money = SqlMoneyBook(self._connection)
        self.customs = SqlCustomsBook(self._connection)
        self.boxes = SqlBoxBook(self._connection)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._finish()

    def touched_skus(self) -> set[str]:
        return set(self._touched)

    def urgent_skus(self) -> set[str]:
        return set(self._urgent)

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        assert self._connection is not None
        touched = bool(self._touched)
        if touched:
            for before in self._hooks.before:
                await before(self)  # e.g. the sync outbox, in this same transaction
            self._touched.clear()
            self._urgent.clear()
        if self._turn is not None:
            await self._commit_in_batch(self._turn)
        else:
            await self._connection.commit()
        if touched:
            for after in self._hooks.after:
                after()  # e.g. wake the channels' dispatchers: there is something to send

    async def _commit_in_batch(self, turn: Turn) -> None:
        """Release the savepoint into the batch, hand the connection on, and wait for the batch's COMMIT."""
        assert self._connection is not None
        await release_savepoint(self._connection)
        self._turn = self._connection = None  # the batch's now, and the next writer's
        turn.leave(kept=True)
        await turn.batch_end()

    async def _finish(self) -> None:
        if self._turn is not None:
            await self._leave_batch(self._turn)
        elif self._connection is not None:
            await self._connection.close()  # rolls back whatever was not committed
            self._connection = None

    async def _leave_batch(self, turn: Turn) -> None:
        """Undo this writer's work (only its own: back to its savepoint) and let the next writer in."""
        try:
            if self._connection is not None:
                with contextlib.suppress(Exception):  # a batch that lost its transaction notices it itself
                    await rollback_to_savepoint(self._connection)
        finally:
            self._turn = self._connection = None
            turn.leave(kept=False)
        with contextlib.suppress(Exception):  # the batch's failure is its committed writers' to report
            await turn.batch_end()


class SqlUnitOfWorkFactory:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._hooks = CommitHooks()  # filled by the composition root once the workflows exist

    @property
    def hooks(self) -> CommitHooks:
        return self._hooks

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._database, read_only=read_only, hooks=self._hooks)
