"""``POST /api/payments/yookassa``: YooKassa's own HTTP notifications (docs/payments.md, "YooKassa's notifications").

YooKassa signs nothing and sends no token, so the route is outside the bearer token and nothing in the body is
believed but the id it names: :class:`~workflows.gateway_notices.GatewayNotices` reads the payment (or refund) at
YooKassa with the shop's credentials and records what that says. YooKassa sends a notice again for a day until it
gets a 200, so the answers are chosen for that: 200 for a notice taken or deliberately left (not ours, still
pending, a duplicate), 400 for a body that is not a notice (nothing changes; sending it again will not help), 503 when
YooKassa (or our database) cannot be asked now, so that it sends it again. With ``PAYMENT_GATEWAY_NOTICE_IPS`` set,
a notice from any other address is refused (403) before anything is read or asked.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from aiohttp import web
from pydantic import ValidationError

from app.client_address import Network, proxy_networks
from app.http.bodies import YooKassaNoticeBody
from app.http.errors import ApiError, validation_details
from app.http.requests import read_body
from app.http.views import GatewayNoticeView
from workflows.gateway_notices import GatewayNotice, GatewayNotices
from workflows.payment_gateway import GatewayRefused, GatewayUnavailable

log = logging.getLogger(__name__)

YOOKASSA_PATH = "/api/payments/yookassa"


def gateway_notice_routes(notices: GatewayNotices, allowed: str = "") -> list[web.RouteDef]:
    """The route, taking notices from the addresses in ``allowed`` (``PAYMENT_GATEWAY_NOTICE_IPS``; empty: any)."""
    networks = proxy_networks(allowed)

    async def notice(request: web.Request) -> web.Response:
        _check_source(request.remote, networks)
        try:
            body = await read_body(request, YooKassaNoticeBody)
        except ValidationError as error:
            details = validation_details(error)
            raise ApiError(400, "invalid_notice", "the body is not a YooKassa notification", details) from None
        try:
            outcome = await notices.receive(GatewayNotice(body.event, body.object.id))
        except GatewayUnavailable as error:
            log.warning("YooKassa notice %s of %s: YooKassa could not confirm it (%s); it will send it again",
                        body.event, body.object.id, error.reason)  # fmt: skip
            raise ApiError(503, "gateway_unavailable", "YooKassa could not be asked to confirm the notice; nothing was "
                           "recorded, send it again") from None  # fmt: skip
        except GatewayRefused as error:  # our credentials: someone must change the settings; YooKassa keeps sending
            log.error("YooKassa notice %s of %s: YooKassa refused our read (%s); check PAYMENT_GATEWAY_SHOP_ID and "
                      "PAYMENT_GATEWAY_SECRET_KEY", body.event, body.object.id, error.reason)  # fmt: skip
            raise ApiError(
                503, "gateway_refused", "YooKassa refused to confirm the notice; nothing was recorded"
            ) from None
        view: GatewayNoticeView = {
            "applied": outcome.applied, "payment_id": outcome.payment_id,
            "phase": outcome.phase.value if outcome.phase is not None else None,
            "gateway_status": outcome.gateway_status,
        }  # fmt: skip
        return web.json_response(view)

    return [web.post(YOOKASSA_PATH, notice)]


def _check_source(remote: str | None, networks: Sequence[Network]) -> None:
    if not networks:
        return
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        address = None
    if address is None or not any(address in network for network in networks):
        log.warning("a YooKassa notice from %s, not in PAYMENT_GATEWAY_NOTICE_IPS: refused", remote)
        raise ApiError(403, "forbidden_source", "notices are taken from YooKassa's addresses only")
