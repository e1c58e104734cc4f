"""The hub also runs on kombu's SQLAlchemy transport (XIANJIE_BROKER_URL=sqla+sqlite:///…): the whole path
and a worker crash, where that transport is at-most-once and the sweeper must redrive what it lost."""

from __future__ import annotations

import pytest

from tests import test_crash, test_e2e_path
from tests.test_crash import rig  # noqa: F401 - fixtures reused on this stack
from tests.test_e2e_path import hub  # noqa: F401

pytestmark = pytest.mark.parametrize("stack", ["sqlite-kombu-sqla"], indirect=True)

test_judgment_reaches_bureau_police_and_procuratorate_then_is_acknowledged = (
    test_e2e_path.test_judgment_reaches_bureau_police_and_procuratorate_then_is_acknowledged)
test_recipient_down_for_a_while_then_up_gets_everything = (
    test_e2e_path.test_recipient_down_for_a_while_then_up_gets_everything)
test_per_person_order_holds_later_messages_behind_a_stuck_one = (
    test_e2e_path.test_per_person_order_holds_later_messages_behind_a_stuck_one)
test_workers_sigkilled_mid_stream_lose_nothing_and_change_state_once = pytest.mark.slow(
    test_crash.test_workers_sigkilled_mid_stream_lose_nothing_and_change_state_once)
