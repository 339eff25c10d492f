"""The names the workflows and the chat adapters share: task kinds, who a task is for, what a
person of the office is, and the topics of chat notices.

Their values are stored in the database (``tasks.kind``, ``tasks.assignee``, ``notices.topic``),
so a member's value never changes; a new name is a new member. Being ``StrEnum`` members they
compare equal to the strings read back from storage.
"""

from __future__ import annotations

import enum


class TaskKind(enum.StrEnum):
    """What a task asks; each kind belongs to one workflow."""

    STORE_CONFIRMATION = "store_confirmation"  # the store cascade asks a store's staff, in Slack
    FRAUD_CHECK = "fraud_check"  # the managers phone the client
    FX_APPROVAL = "fx_approval"  # the managers decide on a rate move
    ALERT = "alert"  # the owner acknowledges or mutes a failure
    UNFILLABLE_ORDER = "unfillable_order"  # the managers cancel a marketplace order nobody can fill, or wait
    RETURN_RECEIPT = "return_receipt"  # a warehouse (a store in Slack, else the managers) says what came back
    PRICE_APPROVAL = "price_approval"  # the managers let a batch of big price drops go out, or keep the old prices
    PAYMENT_UNKNOWN = "payment_unknown"  # the managers look into a payment the gateway left unknown too long
    EARMARK_SHORTFALL = "earmark_shortfall"  # a payment out exceeds what its earmark holds: top up, absorb, postpone
    CUSTOMS_DOCUMENTS = "customs_documents"  # the managers tick off the documents for an order's full clearance
    CUSTOMS_PAYMENT = "customs_payment"  # the managers are reminded to pay customs (FTS) for an order by its date
    PURCHASE_NOT_STARTED = "purchase_not_started"  # the client's money cleared, no goods bought: started, postpone…
    REFUND_SHORTFALL = "refund_shortfall"  # a refund took back less than it gave: money already paid out

    @property
    def for_office(self) -> bool:
        """Whether the office (owner, managers) answers it in Telegram rather than a store in Slack. A
        return receipt may be either: a store's (assignee ``store:<code>``) is answered in Slack, one for the
        managers in Telegram; :func:`assigned_store` tells them apart."""
        return self is not TaskKind.STORE_CONFIRMATION


OFFICE_KINDS = frozenset(kind for kind in TaskKind if kind.for_office)


class Role(enum.StrEnum):
    """What a person of the office is (the topology's ``people``)."""

    OWNER = "owner"
    MANAGER = "manager"


class Assignee(enum.StrEnum):
    """Who may answer an office task. A store's question is for ``store:<code>`` instead
    (:func:`store_assignee`)."""

    OWNER = "role:owner"
    MANAGERS = "role:managers"


_STORE = "store:"


def store_assignee(code: str) -> str:
    """The assignee of a question to the store ``code``: its staff, in its Slack channel."""
    return f"{_STORE}{code}"


def assigned_store(assignee: str) -> str | None:
    """The store a task is for, or ``None`` when it is the office's."""
    return assignee.removeprefix(_STORE) if assignee.startswith(_STORE) else None


class NoticeTopic(enum.StrEnum):
    """What a chat notice is about; each chat adapter takes the topics of its audience."""

    # a store's question in the store's Slack channel
    STORE_QUESTION = "store_question"
    STORE_REMINDER = "store_reminder"
    TASK_CLOSED = "task_closed"
    # the office's Telegram: alerts to the owner (some kinds to the managers too), office tasks
    ALERT = "alert"
    ALERT_RESOLVED = "alert_resolved"
    OFFICE_TASK = "office_task"
    OFFICE_TASK_CLOSED = "office_task_closed"


STORE_TOPICS = (NoticeTopic.STORE_QUESTION, NoticeTopic.STORE_REMINDER, NoticeTopic.TASK_CLOSED)
OFFICE_TOPICS = (NoticeTopic.ALERT, NoticeTopic.ALERT_RESOLVED, NoticeTopic.OFFICE_TASK, NoticeTopic.OFFICE_TASK_CLOSED)
