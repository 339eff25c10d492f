"""What an order's customs plan is made of: the documents the managers collect for full clearance and the planned
payment to customs (FTS) in roubles from the order's ``customs`` earmark, with the rules that set them (the topology's
``[customs]`` table). The desk (``workflows.customs``), the ports and the read models all use these.

See docs/client_money.md, "Customs plans".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Codes with titles in both languages (bot/customs_words.py); any other entry is a title shown as written.
DEFAULT_DOCUMENTS = ("invoice", "packing_list", "contract", "specification", "conformity")
MOST_DOCUMENTS = 20  # each is a button: Telegram shows a long keyboard badly


class CustomsRules(BaseModel):
    """The topology's ``[customs]``: the checklist and when the FTS payment falls due, in days from the moment the
    client's goods payment cleared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    documents: tuple[str, ...] = Field(default=DEFAULT_DOCUMENTS, min_length=1, max_length=MOST_DOCUMENTS)
    documents_within_days: int = Field(default=5, ge=1, le=90)  # the managers' deadline for the checklist
    fts_payee: str = Field(default="ФТС России", min_length=1, max_length=255)
    fts_due_days: int = Field(default=10, ge=1, le=180)  # the FTS payment is due this many days after
    fts_remind_days: int = Field(default=2, ge=0, le=179)  # the managers are reminded this many days before it

    @field_validator("documents")
    @classmethod
    def _documents(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        titles = tuple(title.strip() for title in value)
        if any(not title or len(title) > 100 for title in titles):
            raise ValueError("each document is a code (invoice, packing_list, …) or a title of 1 to 100 characters")
        if len(set(titles)) != len(titles):
            raise ValueError("a document is listed twice")
        return titles

    @model_validator(mode="after")
    def _reminder_before_due(self) -> Self:
        if self.fts_remind_days >= self.fts_due_days:
            raise ValueError(
                f"fts_remind_days ({self.fts_remind_days}) must be less than fts_due_days ({self.fts_due_days}): "
                "the reminder comes before the payment is due"
            )
        return self


@dataclass
class CustomsDocument:
    """One item of the checklist: ``n`` from 1 (its button is ``doc<n>``), ticked once by whoever pressed first."""

    n: int
    title: str  # a code of DEFAULT_DOCUMENTS or a title as configured
    ticked_by: str | None = None
    ticked_at: datetime | None = None

    @property
    def option(self) -> str:
        return f"doc{self.n}"


@dataclass
class CustomsPlan:
    """An order's customs plan, made once when the client's goods payment cleared on full clearance."""

    order_id: int
    goods_cleared_at: datetime  # the moment the goods earmark was filled by cleared client money
    payment_id: str  # the client payment that filled it ("" when the plan came after the money)
    fts_payee: str
    fts_amount_rub: Decimal  # the customs earmark's planned amount
    fts_due_at: datetime
    documents: list[CustomsDocument] = field(default_factory=list)
    documents_task_id: int | None = None  # the open checklist question (the owner's after an escalation)
    documents_done_at: datetime | None = None
    fts_task_id: int | None = None  # the managers' (then the owner's) reminder to pay
    payout_key: str | None = None  # the customs payout made for it
    covered_at: datetime | None = None

    @property
    def covered(self) -> bool:
        return self.payout_key is not None

    def document(self, option: str) -> CustomsDocument | None:
        return next((d for d in self.documents if d.option == option), None)

    @property
    def ticked(self) -> int:
        return sum(1 for d in self.documents if d.ticked_at is not None)


def customs_lock(order_id: int) -> str:
    return f"order:{order_id}:customs"
