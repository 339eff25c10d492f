"""Task and notice payloads: each is written as the exact JSON always stored (no migration) and
read back to the same value, also from what storage hands back."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from workflows.payloads import (
    AlertNotice,
    AlertTask,
    FraudCall,
    FxApproval,
    PayloadError,
    StoreQuestion,
    TaskNotice,
)
from workflows.vocabulary import NoticeTopic

QUESTION = StoreQuestion(12, "WB-12", "wildberries", 1, "КР-7/2", 2, "tverskaya")
CALL = FraudCall(
    7, "S-7", "+79161234567", "Иван", "i@example.ru", "Иван Петров", Decimal("150000.00"), "RUB",
    ("new_client", "large_amount"), 2,
)  # fmt: skip
FX = FxApproval(
    9, "S-9", 3, "Supplier", "CNY", Decimal("10000"), Decimal("12.3456"), Decimal("13.0000"), Decimal("0.0530"),
    Decimal("6544.00"),
)  # fmt: skip


def stored(payload: dict[str, object]) -> dict[str, object]:
    """What a JSON column gives back."""
    return dict(json.loads(json.dumps(payload)))


def test_a_store_question_is_stored_as_before() -> None:
    assert QUESTION.to_payload() == {
        "order_id": 12, "external_id": "WB-12", "channel": "wildberries", "line": 1, "sku": "КР-7/2", "qty": 2,
        "store": "tverskaya",
    }  # fmt: skip
    assert StoreQuestion.from_payload(stored(QUESTION.to_payload())) == QUESTION


def test_a_fraud_call_is_stored_as_before_and_its_later_attempts_too() -> None:
    assert CALL.to_payload() == {
        "order_id": 7, "external_id": "S-7", "phone": "+79161234567", "name": "Иван", "email": "i@example.ru",
        "payer": "Иван Петров", "total": "150000.00", "currency": "RUB", "reasons": ["new_client", "large_amount"],
        "failed_attempts": 2, "attempt": 1,
    }  # fmt: skip
    again = replace(CALL, attempt=2, call_after=datetime(2026, 11, 21, 9, 30, tzinfo=UTC))
    escalated = replace(again, attempt=3, escalated="no_answer")
    assert again.to_payload()["call_after"] == "2026-11-21T09:30:00+00:00"
    assert escalated.to_payload()["escalated"] == "no_answer"
    for call in (CALL, again, escalated):
        assert FraudCall.from_payload(stored(call.to_payload())) == call
    no_total = replace(CALL, total=None)
    assert no_total.to_payload()["total"] is None
    assert FraudCall.from_payload(stored(no_total.to_payload())) == no_total


def test_an_fx_approval_is_stored_as_before_with_its_figures_as_text() -> None:
    assert FX.to_payload() == {
        "obligation_id": 3, "payee": "Supplier", "currency": "CNY", "amount": "10000", "rate_at_payment": "12.3456",
        "rate_now": "13.0000", "deviation": "0.0530", "order_id": 9, "external_id": "S-9", "difference_rub": "6544.00",
    }  # fmt: skip
    escalated = replace(FX, escalated=True)
    assert escalated.to_payload()["escalated"] is True
    for approval in (FX, escalated):
        assert FxApproval.from_payload(stored(approval.to_payload())) == approval


def test_an_alert_task_carries_its_key_kind_and_details() -> None:
    alert = AlertTask("sync_failing:ozon", "sync_failing", {"error": "503", "n": 3})
    assert alert.to_payload() == {"key": "sync_failing:ozon", "kind": "sync_failing", "error": "503", "n": 3}
    assert AlertTask.from_payload(stored(alert.to_payload())) == alert


def test_an_alert_tasks_own_key_and_kind_win_over_fields_of_the_same_name_in_its_detail() -> None:
    alert = AlertTask("sync_failing:ozon", "sync_failing", {"key": "onec_silent", "kind": "sku", "n": 3})
    assert alert.to_payload() == {"key": "sync_failing:ozon", "kind": "sync_failing", "n": 3}
    read = AlertTask.from_payload(stored(alert.to_payload()))
    assert (read.key, read.kind, read.detail) == ("sync_failing:ozon", "sync_failing", {"n": 3})


def test_notices_name_their_task_or_alert() -> None:
    assert TaskNotice(5).to_payload() == {"task_id": 5}
    assert TaskNotice(5, "tverskaya").to_payload() == {"task_id": 5, "store": "tverskaya"}
    assert AlertNotice(8).to_payload() == {"alert_id": 8}
    for notice in (TaskNotice(5), TaskNotice(5, "tverskaya")):
        assert TaskNotice.from_payload(stored(notice.to_payload())) == notice
    assert AlertNotice.from_payload({"alert_id": "8"}) == AlertNotice(8)  # ids written as text still read


@pytest.mark.parametrize("payload", [{}, {"task_id": None}, {"task_id": "five"}, {"task_id": True}])
def test_a_broken_payload_is_refused_with_what_is_wrong(payload: dict[str, object]) -> None:
    with pytest.raises(PayloadError, match="task_id"):
        TaskNotice.from_payload(payload)


def test_topics_keep_their_stored_names() -> None:
    assert [topic.value for topic in NoticeTopic] == [
        "store_question", "store_reminder", "task_closed", "alert", "alert_resolved", "office_task",
        "office_task_closed",
    ]  # fmt: skip
