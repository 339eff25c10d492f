"""An order's customs plan over HTTP (``GET /api/orders/{id}/customs``): the checklist's state and the planned FTS
payment with their tasks (workflows/customs.py; docs/client_money.md, "Customs plans")."""

from __future__ import annotations

from typing_extensions import TypedDict

from workflows.customs import CustomsView
from workflows.tasks import Task


class CustomsDocumentView(TypedDict):
    option: str  # doc<n>: the button's option
    title: str  # a code (invoice, packing_list, contract, specification, conformity) or a configured title
    ticked_by: str | None
    ticked_at: str | None


class CustomsTaskView(TypedDict):
    id: int
    assignee: str  # role:managers | role:owner (after an escalation)
    state: str  # open | answered | expired | cancelled
    deadline: str


class ChecklistView(TypedDict):
    documents: list[CustomsDocumentView]
    ticked: int
    total: int
    done_at: str | None
    task: CustomsTaskView | None


class FtsPaymentView(TypedDict):
    payee: str
    amount_rub: str
    currency: str  # RUB
    due_at: str
    covered: bool  # a customs payout was made for it
    payout_key: str | None
    covered_at: str | None
    task: CustomsTaskView | None  # the reminder (the owner's after the date was missed)


class CustomsPlanView(TypedDict):
    goods_cleared_at: str
    payment_id: str  # the client payment that filled the goods earmark; "" when the plan came after the money
    checklist: ChecklistView
    fts_payment: FtsPaymentView


class CustomsBodyView(TypedDict):
    order_id: int
    clearance: str | None  # full | partial | transport_only; null before the money plan
    plan: CustomsPlanView | None  # null: not full clearance, or the goods money is not in yet


def customs_view(view: CustomsView) -> CustomsBodyView:
    plan = view.plan
    if plan is None:
        body = None
    else:
        documents = [
            CustomsDocumentView(option=d.option, title=d.title, ticked_by=d.ticked_by,
                                ticked_at=d.ticked_at.isoformat() if d.ticked_at else None)
            for d in plan.documents
        ]  # fmt: skip
        checklist = ChecklistView(
            documents=documents, ticked=plan.ticked, total=len(plan.documents),
            done_at=plan.documents_done_at.isoformat() if plan.documents_done_at else None,
            task=_task(view.documents_task),
        )  # fmt: skip
        fts = FtsPaymentView(
            payee=plan.fts_payee, amount_rub=str(plan.fts_amount_rub), currency="RUB",
            due_at=plan.fts_due_at.isoformat(), covered=plan.covered, payout_key=plan.payout_key,
            covered_at=plan.covered_at.isoformat() if plan.covered_at else None, task=_task(view.payment_task),
        )  # fmt: skip
        body = CustomsPlanView(goods_cleared_at=plan.goods_cleared_at.isoformat(), payment_id=plan.payment_id,
                               checklist=checklist, fts_payment=fts)  # fmt: skip
    clearance = view.clearance.value if view.clearance else None
    return CustomsBodyView(order_id=view.order_id, clearance=clearance, plan=body)


def _task(task: Task | None) -> CustomsTaskView | None:
    if task is None or task.id is None:
        return None
    return CustomsTaskView(id=task.id, assignee=task.assignee, state=task.state.value,
                           deadline=task.deadline.isoformat())  # fmt: skip
