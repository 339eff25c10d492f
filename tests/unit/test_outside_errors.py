"""Every outside system's error is one of the two kinds of ``workflows.outside``, and keeps its own name and
attributes, so a catch site may name either."""

from __future__ import annotations

import pytest

from integrations.cbr import CbrError, RatesUnavailable, UnknownCurrency
from integrations.cdek import CarrierError, CarrierRefused, CarrierUnavailable, CredentialsRefused
from integrations.onec_odata import ODataUnavailable
from workflows.carrier import ShipmentRefused
from workflows.channels import ChannelRefused, ChannelUnavailable
from workflows.fx import FeedDown
from workflows.onec_pull import SourceUnavailable
from workflows.outside import OutsideSystemError, Refused, Unavailable

UNAVAILABLE = [ChannelUnavailable, FeedDown, SourceUnavailable, ODataUnavailable, RatesUnavailable, CarrierUnavailable]
REFUSED = [ChannelRefused, ShipmentRefused, CarrierRefused, CredentialsRefused]


@pytest.mark.parametrize("kind", UNAVAILABLE)
def test_may_succeed_later_is_unavailable_with_a_reason_and_a_hint(kind: type[Unavailable]) -> None:
    error = kind("HTTP 503")

    assert isinstance(error, Unavailable) and isinstance(error, OutsideSystemError)
    assert not isinstance(error, Refused)
    assert error.reason == str(error) == "HTTP 503"
    assert error.retry_after is None


def test_a_hint_is_kept() -> None:
    assert ChannelUnavailable("HTTP 429", retry_after=7).retry_after == 7
    assert CarrierUnavailable("HTTP 429", 3.5).retry_after == 3.5


@pytest.mark.parametrize("kind", REFUSED)
def test_will_not_help_to_retry_is_refused_with_a_reason(kind: type[Refused]) -> None:
    error = kind("HTTP 403: banned")

    assert isinstance(error, Refused) and isinstance(error, OutsideSystemError)
    assert not isinstance(error, Unavailable)
    assert error.reason == str(error) == "HTTP 403: banned"


def test_the_clients_own_bases_still_hold() -> None:
    refused = CarrierRefused("HTTP 400: bad phone", status=400, codes=("v2_bad_phone",))

    assert isinstance(refused, CarrierError) and isinstance(refused, ChannelRefused)
    assert (refused.status, refused.codes) == (400, ("v2_bad_phone",))
    assert isinstance(CarrierUnavailable("down"), CarrierError | ChannelUnavailable)
    assert isinstance(RatesUnavailable("down"), CbrError)
    assert not isinstance(UnknownCurrency.__new__(UnknownCurrency), OutsideSystemError)  # a lookup miss, not a failure
