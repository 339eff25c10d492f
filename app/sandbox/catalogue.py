"""The demo shop: an online warehouse, three Moscow stores, five channels, an owner and two managers, and a
catalogue with the articles that break naive systems (a ``/`` in ``КР-7/2``, a name longer than Ozon's 50
characters, sizes as separate articles), a gift set sold as a kit of two of them, and 1C's retail price of each
(every channel sells at it, the marketplaces with their markups and roundings)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from workflows.topology import Topology
from workflows.vocabulary import Role

ONLINE_1C = "8b2f4e10-0000-4000-8000-000000000001"
WB_WAREHOUSE, OZON_WAREHOUSE, YM_CAMPAIGN = 658434, 1020000001, 21000001
RETAILCRM_STORE = "main"


@dataclass(frozen=True)
class Person:
    telegram_id: int
    name: str
    role: Role


@dataclass(frozen=True)
class Store:
    code: str
    title: str
    slack_channel: str
    staff: tuple[tuple[str, str], ...]  # (Slack user id, name)
    onec_id: str


@dataclass(frozen=True)
class Article:
    sku: str
    name: str
    price_rub: int
    stock: tuple[tuple[str, int], ...]  # (warehouse code, quantity in 1C)


PEOPLE = (
    Person(1001, "Ольга (владелец)", Role.OWNER),
    Person(1002, "Мария (менеджер)", Role.MANAGER),
    Person(1003, "Павел (менеджер)", Role.MANAGER),
)

STORES = (
    Store("tverskaya", "Тверская", "C0TVERSKAYA", (("U0ANNA", "Анна"), ("U0BORIS", "Борис")),
          "8b2f4e10-0000-4000-8000-000000000011"),
    Store("arbat", "Арбат", "C0ARBAT", (("U0VERA", "Вера"),), "8b2f4e10-0000-4000-8000-000000000012"),
    Store("mitino", "Митино", "C0MITINO", (("U0GLEB", "Глеб"),), "8b2f4e10-0000-4000-8000-000000000013"),
)  # fmt: skip

LONG_ARTICLE = "ПЛАТЬЕ-ЛЕТНЕЕ-ЛЬНЯНОЕ-С-ПОЯСОМ-И-КАРМАНАМИ-ПЕСОЧНОЕ-44"  # 56 characters: over Ozon's 50

CATALOGUE = (
    Article("IRON-PH-7000", "Утюг Philips 7000", 8990, (("online", 1),)),
    Article("КР-7/2", "Кронштейн КР-7/2 для телевизора", 2490, (("tverskaya", 1), ("arbat", 1))),
    Article("KETTLE-BOSCH-1", "Чайник Bosch 1,7 л", 4590, (("online", 12), ("tverskaya", 2), ("mitino", 1))),
    Article(LONG_ARTICLE, "Платье летнее льняное с поясом и карманами, песочное, размер 44", 6900,
            (("online", 3), ("arbat", 1))),
    Article("RUN-42", "Кроссовки Run, размер 42", 7490, (("online", 4), ("mitino", 1))),
    Article("RUN-43", "Кроссовки Run, размер 43", 7490, (("online", 0), ("tverskaya", 1))),
    Article("RUN-44", "Кроссовки Run, размер 44", 7490, (("online", 2),)),
    Article("TV-LG-55", "Телевизор LG 55\"", 64990, (("online", 5), ("arbat", 1))),
    Article("FRIDGE-LG-509", "Холодильник LG GA-B509", 99990, (("online", 6),)),
    Article("BLENDER-3", "Блендер погружной", 3290, (("online", 20), ("tverskaya", 3), ("arbat", 2), ("mitino", 2))),
    Article("PAN-24", "Сковорода 24 см", 1990, (("online", 0), ("tverskaya", 1), ("arbat", 1), ("mitino", 1))),
    Article("RUN-45", "Кроссовки Run, размер 45", 7490, (("online", 1),)),  # ``wb_unfillable`` sells the last pair
    Article("VASE-MT-1", "Ваза керамическая", 2990, (("mitino", 2),)),  # only in one store
)  # fmt: skip

# A gift set: a kit (docs/kits.md) of two articles above, sold on every channel; it has no stock in 1C, only a price.
GIFT_SET = "НАБОР-ЧАЙ-БЛЕНДЕР"
KITS = (
    (Article(GIFT_SET, "Подарочный набор: чайник Bosch и блендер", 6990, ()), {"KETTLE-BOSCH-1": 1, "BLENDER-3": 1}),
)
RETAIL = "Розничная"  # 1C's price type every channel sells at

CHANNELS = ("site", "wildberries", "ozon", "yandex_market", "retailcrm")


def article_key(sku: str) -> str:
    """1C's ``Ref_Key`` of the article (stable across runs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"storeops-sandbox:{sku}"))


def article(sku: str) -> Article:
    return next(a for a in offered() if a.sku == sku)


def offered() -> tuple[Article, ...]:
    """Everything the channels list: the catalogue's articles and the kits."""
    return (*CATALOGUE, *(kit for kit, _ in KITS))


def demo_topology() -> Topology:
    everywhere = ["online", *(s.code for s in STORES)]
    data: dict[str, Any] = {
        "warehouses": [
            {"code": "online", "kind": "online", "title": "Интернет-склад", "onec_id": ONLINE_1C},
            *[
                {
                    "code": s.code,
                    "kind": "store",
                    "title": s.title,
                    "onec_id": s.onec_id,
                    "slack_channel": s.slack_channel,
                    "staff": [user for user, _ in s.staff],
                    "priority": n,
                }
                for n, s in enumerate(STORES, 1)
            ],
        ],
        # every channel sells at 1C's retail price; the marketplaces add their commission, each rounded its way
        "channels": {
            "site": {"serves": everywhere, "price_type": RETAIL},
            "wildberries": {
                "serves": ["online"],
                "warehouse_id": WB_WAREHOUSE,
                "safety_stock": 0,
                "price_type": RETAIL,
                "price_markup": "0.15",
                "price_rounding": "1",
            },
            "ozon": {
                "serves": ["online"],
                "warehouse_id": OZON_WAREHOUSE,
                "price_type": RETAIL,
                "price_markup": "0.1",
                "price_rounding": "10",
            },
            "yandex_market": {
                "serves": ["online"],
                "campaign_id": YM_CAMPAIGN,
                "price_type": RETAIL,
                "price_markup": "0.1",
                "price_rounding": "1",
            },
            "retailcrm": {"serves": everywhere, "warehouse_id": RETAILCRM_STORE, "price_type": RETAIL},
        },
        "kits": [{"sku": kit.sku, "components": components} for kit, components in KITS],
        "people": {
            "owner_telegram_id": next(p.telegram_id for p in PEOPLE if p.role == Role.OWNER),
            "manager_telegram_ids": [p.telegram_id for p in PEOPLE if p.role == Role.MANAGER],
        },
    }
    return Topology.model_validate(data)
