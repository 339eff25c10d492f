"""The customs documents' titles in the reader's language: the codes of ``workflows.customs_model.DEFAULT_DOCUMENTS``
have both; any other entry of the topology's ``[customs] documents`` is a title, shown as written."""

from __future__ import annotations

from bot.texts import Locale

_TITLES: dict[Locale, dict[str, str]] = {
    "ru": {"invoice": "Инвойс", "packing_list": "Упаковочный лист", "contract": "Внешнеторговый контракт",
           "specification": "Спецификация", "conformity": "Декларация или сертификат соответствия"},
    "en": {"invoice": "Invoice", "packing_list": "Packing list", "contract": "Supply contract",
           "specification": "Specification", "conformity": "Declaration or certificate of conformity"},
}  # fmt: skip


def document_title(locale: Locale, title: str) -> str:
    return _TITLES[locale].get(title, title)
