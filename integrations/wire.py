"""The wire under our HTTP clients of outside systems: one request with httpx, and what its answer means as one of
``workflows.outside``'s errors.

A :class:`Wire` describes how one system answers: the name a reason calls it by, the exception classes its client
raises, how to read the system's own words out of an error answer, which statuses mean "too many requests" and which
headers say how long to wait. The client keeps the rest: formats, auth, pacing on its rate gates (it knows what a
request costs), and the answers it reads itself (``passing``: Wildberries' 409 naming items, Yandex Market's 400
naming offers, CDEK's 401 before it fetches a fresh token).

An answer is read so:

* none (a timeout, a refused or broken connection) → ``unavailable``: "<name> did not answer in time", "<name> could
  not be reached (ConnectError)"; ``not_sent`` instead, when given, for a request that certainly never left;
* a *limited* status (429, and 420 or 503 for systems that use them so) → ``unavailable`` with the wait the answer
  asks for (``Retry-After`` in seconds or as an HTTP date, or the system's own header; else ``limited_wait``), and
  the caller's gate holds off that long: "<name> limited the request: HTTP 429: <words>; retry in 7 s";
* a 5xx → ``unavailable``, with the answer's wait if it gave one: "<name> failed: HTTP 503: <words>";
* any other status outside 2xx and ``passing`` → ``refused``, or what the ``refusal`` hook makes of it (a subclass
  carrying more, or ``unavailable`` when the system's words say it is only a pause): "<name> refused the request:
  HTTP 403: <words>";
* 2xx and ``passing`` → the response, for the client to read (:meth:`Wire.json_body` when it must be a JSON object).

``<words>`` come from the ``words`` hook (the system's error shape; :func:`vendor_words` reads the common ones). A
reason never carries a credential: a client whose system could echo one scrubs it in its hook.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from integrations.http_hints import retry_after
from integrations.rate_gate import RateGate
from workflows.outside import OutsideSystemError, Refused, Unavailable

REASON_CHARS = 300
NO_REASON = "no reason given"
TOO_MANY_REQUESTS = frozenset({int(httpx.codes.TOO_MANY_REQUESTS)})
_WORD_KEYS = ("message", "error", "detail", "title")

Words = Callable[[httpx.Response], str]
"""The system's own words in an error answer ("" when it gave none)."""
Refusal = Callable[[httpx.Response, str], OutsideSystemError | None]
"""The error a refused request raises, given the answer and the reason worded for it; ``None`` for the ordinary
``refused``."""


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The answer's body when it is a JSON object, else ``None``."""
    try:
        body = response.json()
    except ValueError:  # not JSON, or not in its encoding
        return None
    return body if isinstance(body, dict) else None


def vendor_words(response: httpx.Response) -> str:
    """The words of the common JSON error shapes (the first text among ``message``, ``error``, ``detail`` and
    ``title``), else the HTTP reason phrase."""
    body = json_object(response) or {}
    for key in _WORD_KEYS:
        said = body.get(key)
        if isinstance(said, str) and said.strip():
            return said.strip()
    return response.reason_phrase


@dataclass(frozen=True)
class Wire:
    """How one outside system answers over HTTP (see the module's docstring)."""

    name: str  # as a reason names it: "the site", "Ozon", "CDEK"
    unavailable: type[Unavailable] = Unavailable
    refused: type[Refused] = Refused
    words: Words = vendor_words
    refusal: Refusal | None = None
    limited: frozenset[int] = TOO_MANY_REQUESTS
    retry_headers: tuple[str, ...] = ("Retry-After",)
    limited_wait: float | None = None  # seconds to wait after a limited answer that asked for no wait
    not_sent: type[Unavailable] | None = None

    async def send(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        gate: RateGate | None = None,
        passing: Collection[int] = (),
        **request: Any,
    ) -> httpx.Response:
        """One request (``request`` goes to ``client.request``); the answer when it is 2xx or in ``passing``, else
        the error it means. ``gate`` is the one the caller waited on: a limited answer holds it off."""
        response = await self.request(client, method, url, **request)
        return self.check(response, gate=gate, passing=passing)

    async def request(self, client: httpx.AsyncClient, method: str, url: str, **request: Any) -> httpx.Response:
        """One request, whatever the status of its answer; raises only when no answer came."""
        with self.transport_errors():
            return await client.request(method, url, **request)

    @contextmanager
    def transport_errors(self) -> Iterator[None]:
        """httpx's errors of a request made inside (a streamed one, say) as this system's ``unavailable``."""
        try:
            yield
        except httpx.HTTPError as error:
            raise self._no_answer(error) from None

    def check(
        self, response: httpx.Response, *, gate: RateGate | None = None, passing: Collection[int] = ()
    ) -> httpx.Response:
        """``response`` when it is 2xx or in ``passing``; raises the error any other status means."""
        status = response.status_code
        if httpx.codes.is_success(status) or status in passing:
            return response
        if status in self.limited:
            wait = self.retry_after(response)
            wait = self.limited_wait if wait is None else wait
            if wait is not None and gate is not None:
                gate.hold_off(wait)
            hint = f"; retry in {wait:g} s" if wait is not None else ""
            raise self.unavailable(self.reason("limited the request", response) + hint, wait)
        if status >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise self.unavailable(self.reason("failed", response), self.retry_after(response))
        raise self.refuse(response)

    def refuse(self, response: httpx.Response) -> OutsideSystemError:
        """The error of a refused request, worded from its answer (also for a 2xx that says no)."""
        reason = self.reason("refused the request", response)
        special = None if self.refusal is None else self.refusal(response, reason)
        return self.refused(reason) if special is None else special

    def json_body(self, response: httpx.Response) -> dict[str, Any]:
        """The answer's JSON object; :meth:`unusable` when it is not one."""
        body = json_object(response)
        if body is None:
            raise self.unusable(response)
        return body

    def unusable(self, response: httpx.Response) -> Unavailable:
        """The error of an answer not in the system's shape (an HTML page from a proxy, a cut body)."""
        return self.unavailable(f"{self.name} answered HTTP {response.status_code} with something other than its JSON")

    def reason(self, doing: str, response: httpx.Response) -> str:
        """``<name> <doing>: HTTP <status>: <the system's words>``, at most :data:`REASON_CHARS` long."""
        words = self.words(response).strip() or NO_REASON
        return f"{self.name} {doing}: HTTP {response.status_code}: {words}"[:REASON_CHARS]

    def retry_after(self, response: httpx.Response) -> float | None:
        """The wait the answer asks for, in seconds (the first of :attr:`retry_headers` it carries)."""
        return retry_after(response, *self.retry_headers)

    def _no_answer(self, error: httpx.HTTPError) -> Unavailable:
        kind = type(error).__name__
        if self.not_sent is not None and isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
            return self.not_sent(f"{self.name} could not be reached ({kind})")
        if isinstance(error, httpx.TimeoutException):
            return self.unavailable(f"{self.name} did not answer in time")
        return self.unavailable(f"{self.name} could not be reached ({kind})")
