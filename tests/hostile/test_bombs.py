"""A register streamed in chunks beyond the limit (workbooks that inflate hugely are cases of the corpus)."""

from __future__ import annotations

import base64

from tests.hostile.checks import good_goes_through, kept_in_quarantine, named
from tests.hostile.conftest import HostileHub
from tests.hostile.test_streaming import stream_until_answered


def test_a_chunked_register_over_the_limit_is_413_before_it_is_all_sent(hostile: HostileHub) -> None:
    total = 300 << 20
    status, body, sent = stream_until_answered(hostile.hub.settings.port,
                                               "/api/v1/registers/bureau_register?as_of=2026-06-30", "530502SF",
                                               "姓名,".encode(), total, declared=False, chunk=4 << 20)
    print(f"registers/bureau_register: {status} after {sent} of {total} bytes sent")
    assert status == 413, body
    named(body["error"])  # type: ignore[arg-type]
    q = kept_in_quarantine(hostile.client, str(body["quarantine_id"]), None)
    # its head is kept, as for a message over its limit, not the 256 MiB that had come
    kept = base64.b64decode(q["raw_base64"])
    assert q["truncated"] and len(kept) == 64 * 1024 and kept.startswith("姓名,".encode()), (q["truncated"], len(kept))
    good_goes_through(hostile.client)
    assert sent < total, f"the answer came only after all {total} bytes were sent"
