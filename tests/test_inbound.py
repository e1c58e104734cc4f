"""Native payloads through the hub: POST /api/v1/inbound/{system} and the drop folders. A batch with bad records
stores the good ones and reports each bad one by record number and native place; the raw input is kept; each
recipient gets its own format."""

from __future__ import annotations

import copy
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from hub.settings import Settings
from hub.workers.dropfolder import DropFolders
from tests.adapters.test_ledger import ledger_csv, ledger_xlsx
from tests.adapters.test_ledger import row as ledger_row
from tests.conftest import Stack
from tests.harness import Recipients, auth, notice, wait_until, write_registry
from tests.hubserver import InProcessHub, hub_settings

BUREAU_SAMPLES = Path(__file__).resolve().parent.parent / "schemas" / "agencies" / "bureau" / "samples"
BNS = "urn:sqjz:exchange:1"
B = {"b": BNS}
ADAPTERS = {"530581SF": "bureau", "530581JC": "procuratorate", "530502JC": "procuratorate", "530502FY": "court"}
COURT_JUDGMENT = Path(__file__).resolve().parent / "golden" / "court" / "sentencing-judgment.in.xml"


def bureau_batch(n: int, *, bad_sex: tuple[int, ...] = (), bad_id: tuple[int, ...] = (), tag: str | None = None,
                 declared: str = "UTF-8") -> bytes:
    """A 腾冲市司法局 batch of ``n`` reporting outcomes (records numbered from 1), some spoilt on purpose."""
    root = etree.parse(str(BUREAU_SAMPLES / "2102-ReportingOutcome.xml")).getroot()
    record = root.find("b:SJX", B)
    assert record is not None
    root.remove(record)
    tag = tag or uuid.uuid4().hex[:8]
    for i in range(1, n + 1):
        r = copy.deepcopy(record)
        r.find("b:XXID", B).getparent().remove(r.find("b:XXID", B))  # the hub derives stable ids
        r.find("b:WSBH", B).text = f"腾司矫报〔2026〕{tag}-{i}号"
        if i in bad_sex:
            r.find("b:JZDX/b:XB", B).text = "5"
        if i in bad_id:
            r.find("b:JZDX/b:SFZHM", B).text = "530522198803140311"  # wrong check digit
        root.append(r)
    root.find("b:BWTX/b:JLS", B).text = str(n)
    root.find("b:BWTX/b:BWBH", B).text = f"530581SF-{tag}"
    return etree.tostring(root, xml_declaration=True, encoding=declared)


@pytest.fixture
def native_hub(tmp_path: Path, stack: Stack) -> Iterator[tuple[InProcessHub, Recipients]]:
    recipients = Recipients().start()
    registry = write_registry(tmp_path / "registry.toml", recipients_url=recipients.url, drop_root=tmp_path / "drop",
                              adapters=ADAPTERS, accepts={"530521SF": ["ledger"]})
    hub = InProcessHub(hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                                    queue_prefix=stack.queue_prefix, registry_path=registry)).start()
    yield hub, recipients
    hub.stop()
    recipients.stop()


def test_a_batch_with_bad_records_stores_the_good_ones_and_reports_the_bad_by_record(
        native_hub: tuple[InProcessHub, Recipients]) -> None:
    hub, recipients = native_hub
    # Given a bureau batch of 5 records where record 2 has a sex code the bureau's schema refuses and record 4 an
    # ID number whose check digit is wrong (only the hub's own check can see that)
    batch = bureau_batch(5, bad_sex=(2,), bad_id=(4,))
    with hub.client() as client:
        # When it is posted to the bureau system's inbound endpoint
        r = client.post("/api/v1/inbound/bureau", content=batch, headers=auth("530581SF"),
                        params={"filename": "报到情况.xml"})
        # Then the 3 good ones are accepted and the 2 bad ones reported with their record number and native place
        assert r.status_code == 207, r.text
        body = r.json()
        assert (body["records"], body["accepted"], body["rejected"]) == (5, 3, 2)
        by_number = {o["record"]: o for o in body["outcomes"]}
        assert [n for n, o in sorted(by_number.items()) if o["status"] == "accepted"] == [1, 3, 5]
        assert by_number[2]["status"] == "rejected" and by_number[2]["where"] == "/JHBW/SJX[2]"
        assert any(p["path"] == "/JHBW/SJX[2]/JZDX/XB" and "5" in p["reason"] for p in by_number[2]["problems"])
        assert by_number[4]["status"] == "rejected"
        assert any(p["path"] == "/JHBW/SJX[4]/JZDX/SFZHM" and "check" in p["reason"]
                   for p in by_number[4]["problems"]), by_number[4]
        # And each bad record is quarantined with its own native text, its payload and its number
        q = client.get(f"/api/v1/quarantine/{by_number[4]['quarantine_id']}", headers=auth("530581SF")).json()
        assert q["payload_id"] == body["payload_id"] and q["record_number"] == 4
        assert "530522198803140311" in q["raw_text"] and "<SJX" in q["raw_text"]
        # And the whole payload is kept with its report
        stored = client.get(body["status_url"], headers=auth("530581SF")).json()
        assert stored["filename"] == "报到情况.xml" and stored["accepted"] == 3 and stored["rejected"] == 2
        assert client.get(body["status_url"], headers=auth("530502FY")).status_code == 404

        # And the good ones go to the deciding court, in the court's own format (its case-management XML)
        ids = [by_number[n]["message_id"] for n in (1, 3, 5)]
        wait_until(lambda: {x.message_id for x in recipients.got("530502FY")} >= set(ids), what="court deliveries")
        court = [x.body for x in recipients.got("530502FY") if x.message_id in ids]
        assert len(court) == 3 and all(b"<SJBW" in b and b"<ReportingOutcome" not in b for b in court), court[0][:300]
        # And the procuratorate of 腾冲市 gets its copies in its own field-list format through its inbox
        wait_until(lambda: len(client.get("/api/v1/inbox", headers=auth("530581JC")).json()["items"]) >= 3,
                   what="procuratorate inbox")
        items = client.get("/api/v1/inbox", headers=auth("530581JC")).json()["items"]
        assert all(i["format"] == "procuratorate" and "<JCJH" in i["payload"] for i in items), items[0]

        # When the same batch is sent again, Then nothing new is stored and the ids are the same
        again = client.post("/api/v1/inbound/bureau", content=batch, headers=auth("530581SF")).json()
        assert again["duplicates"] == 3 and again["accepted"] == 0
        assert sorted(o["message_id"] for o in again["outcomes"] if o["status"] == "duplicate") == sorted(ids)


def test_a_ledger_that_breaks_part_way_keeps_every_row_before_the_break(
        native_hub: tuple[InProcessHub, Recipients]) -> None:
    hub, _ = native_hub
    # Given a 施甸县司法局 CSV ledger of 520 good warnings (more than one storage chunk of 500) whose row 522 has a
    # cell longer than any CSV reader accepts, which the reader finds only when it gets there
    tag = uuid.uuid4().hex[:8]
    good = [ledger_row("警告", 0, 文书编号=f"施司矫〔2026〕{tag}-{n}号", 日期="2026-07-03", 情况说明="予以警告。")
            for n in range(2, 522)]
    lines = ledger_csv(good).decode().split("\r\n")[:-1]
    last = lines[-1].replace(f"{tag}-521", f"{tag}-522").replace("予以警告。", "长" * 140_000)
    broken = "\r\n".join([*lines, last]) + "\r\n"
    with hub.client() as client:
        # When it is uploaded
        r = client.post("/api/v1/inbound/ledger", content=broken.encode(), headers=auth("530521SF"),
                        params={"filename": "台账.csv"})
        # Then the file is refused at the cell of row 522, and every row before it is reported as stored
        assert r.status_code == 400, r.text
        body = r.json()
        error = body["error"]
        assert error["code"] == "corrupt" and error["details"][0]["path"] == "CSV!522:522", error
        assert (body["records"], body["accepted"], body["rejected"]) == (520, 520, 0)
        # And stored indeed: the same 520 rows sent again are all duplicates, the last ones (the part-filled chunk)
        # included
        again = client.post("/api/v1/inbound/ledger", content=("\r\n".join(lines) + "\r\n").encode(),
                            headers=auth("530521SF"), params={"filename": "台账.csv"}).json()
        assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 520, 0), again
        # And the broken file is kept for the operators
        q = client.get(f"/api/v1/quarantine/{body['quarantine_id']}/raw", headers=auth("530521SF"))
        assert q.content == broken.encode()


def test_a_workbook_with_bad_rows_delivers_the_good_ones_and_reports_the_bad_by_row(
        native_hub: tuple[InProcessHub, Recipients]) -> None:
    hub, _ = native_hub
    # Given 施甸县司法局's XLSX 台账 of four rows about a person supervised in 施甸县 (decided by 昌宁县's court), where
    # row 3 has a date that does not exist and row 5 an unknown 事项
    tag = uuid.uuid4().hex[:8]
    rows = [ledger_row(event, 0, 文书编号=f"施司矫〔2026〕{tag}-{n}号", 日期=day, 情况说明="予以警告。")
            for n, (event, day) in enumerate([("警告", "2026-07-03"), ("警告", "2017-02-30"), ("训诫", "2026年8月3日"),
                                              ("谈话教育", "2026/8/2")], start=2)]
    with hub.client() as client:
        # When it is uploaded
        r = client.post("/api/v1/inbound/ledger", content=ledger_xlsx(rows), headers=auth("530521SF"),
                        params={"filename": "台账.xlsx"})
        # Then rows 2 and 4 are accepted and rows 3 and 5 reported by row, each problem at its cell
        assert r.status_code == 207, r.text
        body = r.json()
        by_row = {o["record"]: o for o in body["outcomes"]}
        assert {n: o["status"] for n, o in by_row.items()} == {2: "accepted", 3: "rejected", 4: "accepted",
                                                               5: "rejected"}
        assert by_row[3]["where"] == "台账!3:3" and by_row[3]["problems"][0]["path"].startswith("台账!")
        assert "2017年2月30日" in by_row[3]["problems"][0]["reason"]
        assert "谈话教育" in by_row[5]["problems"][0]["reason"]
        # And the good ones (an admonition and a warning, of which the procuratorate is informed) reach 施甸县's
        # procuratorate through its inbox
        ids = {by_row[n]["message_id"] for n in (2, 4)}
        wait_until(lambda: ids <= {i["message_id"] for i in client.get(
            "/api/v1/inbox", headers=auth("530521JC")).json()["items"]}, what="procuratorate inbox")


def test_an_unreadable_payload_is_refused_whole_and_kept(native_hub: tuple[InProcessHub, Recipients]) -> None:
    hub, _ = native_hub
    # Given a bureau batch written in GB18030 but declared UTF-8
    batch = bureau_batch(2).decode("utf-8").encode("gb18030")
    with hub.client() as client:
        r = client.post("/api/v1/inbound/bureau", content=batch, headers=auth("530581SF"))
        # Then it is refused as a whole with the offset of the first wrong byte, and kept
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["error"]["code"] == "wrong_encoding" and "offset" in body["error"]["details"][0]["reason"]
        q = client.get(f"/api/v1/quarantine/{body['quarantine_id']}/raw", headers=auth("530581SF"))
        assert q.content == batch


def test_an_adapter_defect_keeps_the_payload_for_the_operators(
        native_hub: tuple[InProcessHub, Recipients], monkeypatch: pytest.MonkeyPatch) -> None:
    hub, _ = native_hub
    from adapters import get_adapter

    def broken(native: bytes, ctx: object) -> list[object]:
        raise RuntimeError("a defect in the adapter")

    # Given an adapter with a defect
    monkeypatch.setattr(get_adapter("bureau"), "decode", broken)
    batch = bureau_batch(1)
    with hub.client() as client:
        # When a payload reaches it, Then the sender hears so and the payload is kept
        r = client.post("/api/v1/inbound/bureau", content=batch, headers=auth("530581SF"))
        assert r.status_code == 500 and r.json()["error"]["code"] == "adapter_failed", r.text
        kept = client.get(f"/api/v1/quarantine/{r.json()['quarantine_id']}/raw", headers=auth("530581SF"))
        assert kept.content == batch


def test_only_the_agencys_own_systems_are_accepted(native_hub: tuple[InProcessHub, Recipients]) -> None:
    hub, _ = native_hub
    with hub.client() as client:
        # a court may not send the bureau's format, and nobody a system the hub does not know
        batch = bureau_batch(1)
        r = client.post("/api/v1/inbound/bureau", content=batch, headers=auth("530502FY"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
        r = client.post("/api/v1/inbound/fax-machine", content=b"x", headers=auth("530581SF"))
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_system", r.text
        # each refused payload is kept for the operators, as it came
        q = client.get(f"/api/v1/quarantine/{r.json()['quarantine_id']}/raw", headers=auth("530581SF"))
        assert q.content == b"x"
        # and a record whose sender is not the authenticated agency is refused
        r = client.post("/api/v1/inbound/bureau", content=bureau_batch(1).replace(b"<FSDW>530581SF", b"<FSDW>530523SF"),
                        headers=auth("530581SF"))
        assert r.status_code == 422 and r.json()["outcomes"][0]["code"] == "sender_mismatch", r.text


def test_each_recipient_gets_its_own_format(native_hub: tuple[InProcessHub, Recipients]) -> None:
    hub, recipients = native_hub
    # Given a canonical judgment from 隆阳区人民法院 for a resident of 腾冲市, whose bureau speaks the bureau format
    mid, xml = notice("SentencingDecision", execution_division="530581")
    with hub.client() as client:
        assert client.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
    # Then the bureau receives its <JHBW> with the judgment's business type, and the police the canonical XML
    wait_until(lambda: recipients.got("530581SF") and recipients.got("530581GA"), what="deliveries")
    got = recipients.got("530581SF")[0].body
    root = etree.fromstring(got)
    assert root.tag == f"{{{BNS}}}JHBW" and root.findtext("b:SJX/b:YWLX", namespaces=B) == "1101"
    assert root.findtext("b:SJX/b:XXID", namespaces=B) == mid
    assert b"<SentencingDecision" in recipients.got("530581GA")[0].body


def test_an_inline_attachment_is_kept_and_served_to_whoever_may_read_the_message(
        native_hub: tuple[InProcessHub, Recipients]) -> None:
    hub, recipients = native_hub
    # Given the court's GB18030 judgment batch with the judgment attached inline as base64
    payload = COURT_JUDGMENT.read_bytes()
    with hub.client() as client:
        r = client.post("/api/v1/inbound/court", content=payload, headers=auth("530502FY"))
        assert r.status_code == 202, r.text
        mid = r.json()["outcomes"][0]["message_id"]
        wait_until(lambda: recipients.got("530581SF"), what="the bureau's copy")
        # Then the canonical message names the file by its SHA-256, and the bureau can fetch it by that hash
        native = recipients.got("530581SF")[0].body
        digest = re.search(rb"urn:xianjie:attachment:sha256:([0-9a-f]{64})", native)
        assert digest is not None, native[:500]
        got = client.get(f"/api/v1/attachments/{digest.group(1).decode()}", headers=auth("530581SF"))
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == digest.group(1).decode()
        # And an agency with no part in the message cannot
        url = f"/api/v1/attachments/{digest.group(1).decode()}"
        assert client.get(url, headers=auth("530523SF")).status_code == 404
        assert mid
        # When the same judgment file comes again with another notice, for a person who lives in 龙陵县
        again = (payload.decode("gb18030").replace("8092df1d-87f8-438e-bf6a-5826f71aebe0", str(uuid.uuid4()))
                 .replace("-送达-1", "-送达-2").replace("<ZXD>530581</ZXD>", "<ZXD>530523</ZXD>")
                 .replace("<JZDQH>530581</JZDQH>", "<JZDQH>530523</JZDQH>")).encode("gb18030")
        r = client.post("/api/v1/inbound/court", content=again, headers=auth("530502FY"))
        assert r.status_code == 202, r.text
        # Then 龙陵县's bureau, which may read that notice, can fetch the file too; an agency in neither still cannot
        assert client.get(url, headers=auth("530523SF")).status_code == 200
        assert client.get(url, headers=auth("530581SF")).status_code == 200
        assert client.get(url, headers=auth("530524SF")).status_code == 404


def _drop_settings(tmp_path: Path) -> tuple[Settings, Path]:
    registry = write_registry(tmp_path / "registry.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp_path,
                              adapters=ADAPTERS)
    root = tmp_path / "inbound"
    return hub_settings(database_url=f"sqlite:///{tmp_path}/hub.db", registry_path=registry, inbound_root=root,
                        inbound_settle_seconds=0.3, inbound_poll_interval=0.1), root


def test_a_drop_folder_file_is_taken_only_once_written_and_sorted_into_done_or_rejected(tmp_path: Path) -> None:
    from hub.canonical import load_schema  # noqa: F401  (compiled once, outside the timing below)
    from hub.migrate import upgrade
    from hub.registry import load_registry
    from hub.store.db import make_engine

    settings, root = _drop_settings(tmp_path)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    folders = DropFolders(settings, engine, load_registry(settings.registry_path))
    incoming = root / "530581SF" / "incoming"
    assert incoming.is_dir() and (root / "530581SF" / "done").is_dir()

    # Given a batch being written slowly into the bureau's incoming folder, a piece at a time, for longer than
    # the settle time
    batch = bureau_batch(4, bad_sex=(3,))
    target = incoming / "报到-20260408.xml"
    pieces = [batch[i:i + len(batch) // 6 + 1] for i in range(0, len(batch), len(batch) // 6 + 1)]
    with target.open("wb") as f:
        for piece in pieces[:-1]:
            f.write(piece)
            f.flush()
            # When the folder is polled while the file is still growing, Then the file is not taken
            assert folders.poll_once() == 0
            time.sleep(0.15)
        assert target.exists(), "a half-written file must not be taken"
        f.write(pieces[-1])
    # Then once it has stopped changing for the settle time it is taken, and moved to done/ with an error file
    # naming the one bad record
    deadline = time.time() + 10
    while target.exists() and time.time() < deadline:
        folders.poll_once()
        time.sleep(0.1)
    done = root / "530581SF" / "done" / target.name
    assert done.exists() and not target.exists()
    errors = (root / "530581SF" / "done" / (target.name + ".errors.txt")).read_text(encoding="utf-8-sig")
    assert "被拒 rejected: 1" in errors and "record 3 (/JHBW/SJX[3])" in errors and "/JHBW/SJX[3]/JZDX/XB" in errors

    # Given a file that is not XML at all and a temporary name being written
    (incoming / "garbage.xml").write_bytes(b"\x00\x01 not xml")
    (incoming / "next.xml.part").write_bytes(batch)
    time.sleep(0.4)
    for _ in range(3):
        folders.poll_once()
        time.sleep(0.35)
    # Then the garbage goes to rejected/ with the reason, and the temporary file is left alone
    assert (root / "530581SF" / "rejected" / "garbage.xml").exists()
    assert "not_xml" in (root / "530581SF" / "rejected" / "garbage.xml.errors.txt").read_text(encoding="utf-8-sig")
    assert (incoming / "next.xml.part").exists()
    folders.close()
    engine.dispose()


def test_a_file_left_in_processing_by_a_crash_is_taken_again(tmp_path: Path) -> None:
    from hub.migrate import upgrade
    from hub.registry import load_registry
    from hub.store.db import make_engine

    settings, root = _drop_settings(tmp_path)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    directory = load_registry(settings.registry_path)
    # Given a file a crashed poller had claimed
    (root / "530581SF" / "processing").mkdir(parents=True)
    (root / "530581SF" / "processing" / "batch.xml").write_bytes(bureau_batch(2))
    # When a poller starts, Then it puts the file back and takes it
    folders = DropFolders(settings, engine, directory)
    assert (root / "530581SF" / "incoming" / "batch.xml").exists()
    deadline = time.time() + 10
    while not (root / "530581SF" / "done" / "batch.xml").exists() and time.time() < deadline:
        folders.poll_once()
        time.sleep(0.1)
    assert (root / "530581SF" / "done" / "batch.xml").exists()
    folders.close()
    engine.dispose()


def test_a_dead_pollers_files_go_back_and_a_live_pollers_stay(tmp_path: Path) -> None:
    from hub.migrate import upgrade
    from hub.registry import load_registry
    from hub.store.db import make_engine

    settings, root = _drop_settings(tmp_path)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    directory = load_registry(settings.registry_path)
    # Given a live poller that holds a file in its claim, and the claim of a poller that died holding another
    live = DropFolders(settings, engine, directory)
    held = root / "530581SF" / "processing" / live.claim / "held.xml"
    held.write_bytes(bureau_batch(1))
    dead = root / "530581SF" / "processing" / "0123456789abcdef0123456789abcdef"
    dead.mkdir()
    (dead / "orphan.xml").write_bytes(bureau_batch(1))
    (root / ".pollers" / "0123456789abcdef0123456789abcdef.lock").touch()  # its lock, held by no one
    # When a second poller starts (another worker, or this one after a restart)
    other = DropFolders(settings, engine, directory)
    # Then the dead claim's file is back in incoming/ and its claim is gone, and the live poller's file is untouched
    assert (root / "530581SF" / "incoming" / "orphan.xml").exists() and not dead.exists()
    assert held.exists() and not (root / "530581SF" / "incoming" / "held.xml").exists()
    # And when the live poller stops, its claim is given up cleanly
    live.close()
    assert not held.parent.exists() and not (root / ".pollers" / f"{live.claim}.lock").exists()
    other.close()
    engine.dispose()


def test_a_file_that_cannot_be_stored_goes_back_to_incoming(tmp_path: Path) -> None:
    from hub.registry import load_registry
    from hub.store.db import make_engine
    from tests.harness import free_port

    settings, root = _drop_settings(tmp_path)
    # Given a poller whose database is away (nothing listens on that port)
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=1")
    folders = DropFolders(settings, engine, load_registry(settings.registry_path))
    incoming = root / "530581SF" / "incoming"
    (incoming / "batch.xml").write_bytes(bureau_batch(2))
    # When the settled file is taken
    folders.poll_once()
    time.sleep(0.35)
    assert folders.poll_once() == 0
    # Then it is neither done nor rejected but back in incoming/, to be taken again once the database is back
    assert (incoming / "batch.xml").exists()
    assert not any((root / "530581SF" / "done").iterdir()) and not any((root / "530581SF" / "rejected").iterdir())
    assert not any((root / "530581SF" / "processing" / folders.claim).iterdir())
    folders.close()
    engine.dispose()


def test_the_drop_folders_run_inside_the_hub(tmp_path: Path) -> None:
    settings, root = _drop_settings(tmp_path)
    hub = InProcessHub(settings).start()
    try:
        (root / "530581SF" / "incoming").mkdir(parents=True, exist_ok=True)
        tmp = root / "530581SF" / "incoming" / ".batch.xml"
        tmp.write_bytes(bureau_batch(2))
        tmp.rename(root / "530581SF" / "incoming" / "batch.xml")
        wait_until(lambda: (root / "530581SF" / "done" / "batch.xml").exists(), what="the file in done/")
        with httpx.Client(base_url=hub.url) as client:
            wait_until(lambda: len(client.get("/api/v1/inbox", headers=auth("530581JC")).json()["items"]) >= 2,
                       what="copies to the procuratorate")
    finally:
        hub.stop()
