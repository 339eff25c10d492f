"""Errors the workflows raise. Adapters turn each into a user-facing answer."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of every business error. ``code`` is stable and machine-readable."""

    code = "workflow_error"

    def __init__(self, message: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class UnknownChannel(WorkflowError):
    code = "unknown_channel"


class UnknownWarehouse(WorkflowError):
    code = "unknown_warehouse"


class OrderNotFound(WorkflowError):
    code = "order_not_found"


class OrderConflict(WorkflowError):
    """The same (channel, external_id) was sent again with different content."""

    code = "order_conflict"


class DuplicateOrder(Exception):
    """Raised by an order repository when (channel, external_id) already exists.

    Not a :class:`WorkflowError`: intake catches it and answers with the stored order.
    """


class ClientBlocked(WorkflowError):
    """The client was blocked after a manager confirmed a fraud."""

    code = "client_blocked"


class PaymentConflict(WorkflowError):
    """A payment id seen before arrives with another order or idempotency key."""

    code = "payment_conflict"


class InvalidDelivery(WorkflowError):
    """An order's delivery cannot go to the carrier as sent (no recipient name or phone, …)."""

    code = "invalid_delivery"


class FigureFromFuture(WorkflowError):
    """1C's figures are dated further ahead of our clock than the tolerance allows."""

    code = "figure_from_future"


class InvalidStockLine(WorkflowError):
    """A line of 1C's stock names an article or a quantity the shop cannot take, or repeats another line."""

    code = "invalid_stock_line"


class TotalsWithoutWarehouse(WorkflowError):
    """1C's stock gives only totals per offer, no warehouse, and ``[onec] totals_warehouse`` names none to put
    them in."""

    code = "totals_without_warehouse"


class InvalidCatalogue(WorkflowError):
    """1C's catalogue names a product whose article cannot be one of our SKUs."""

    code = "invalid_catalogue"
