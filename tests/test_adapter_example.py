"""docs/adapters.md's worked example is real: the files the page shows, built into a scratch folder, make a new
agency system join a running hub with one package, one schema and one registry line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import adapters
import adapters.kit.nativexml as nativexml
from tests.harness import Recipients, auth, wait_until, write_registry
from tests.hubserver import InProcessHub, hub_settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "adapters.md"
BLOCK = re.compile(r"<!-- file: (?P<path>[^ ]+) -->\n```[a-z]*\n(?P<body>.*?)```", re.S)


def doc_files() -> dict[str, str]:
    """Every file the page shows, by the path it names."""
    return {m["path"]: m["body"] for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))}


@pytest.fixture
def township(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    files = doc_files()
    for rel, body in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    # the scratch folder stands in for the repository: its adapters/ and schemas/agencies/ are searched too
    monkeypatch.setattr(adapters, "__path__", [*adapters.__path__, str(tmp_path / "adapters")])
    real = nativexml.agency_schema_dir
    monkeypatch.setattr(nativexml, "agency_schema_dir",
                        lambda system: tmp_path / "schemas" / "agencies" / system if system == "township"
                        else real(system))
    yield files
    adapters._loaded.pop("township", None)


def test_the_page_shows_a_whole_adapter() -> None:
    # Given the page, then it shows the schema, the package, the registry line and a sample
    assert set(doc_files()) == {"schemas/agencies/township/township.xsd", "adapters/township/__init__.py",
                                "registry-line.toml", "sample.xml"}


def test_a_new_system_joins_with_one_package_one_schema_one_registry_line(
        township: dict[str, str], tmp_path: Path) -> None:
    # Given a hub whose registry gives 腾冲市司法局 the registry line from the page
    line = township["registry-line.toml"].strip()
    assert line == 'adapter = "township"'
    recipients = Recipients().start()
    registry = write_registry(tmp_path / "registry.toml", recipients_url=recipients.url, drop_root=tmp_path / "drop",
                              adapters={"530581SF": "township"})
    hub = InProcessHub(hub_settings(database_url=f"sqlite:///{tmp_path}/hub.db", registry_path=registry)).start()
    try:
        with hub.client() as client:
            # When the township app's sample is posted to the new system's inbound endpoint
            r = client.post("/api/v1/inbound/township", content=township["sample.xml"].encode(),
                            headers=auth("530581SF"))
            # Then its one record is accepted, normalised, and routed to the procuratorate of 腾冲市
            assert r.status_code == 202, r.text
            out = r.json()["outcomes"][0]
            assert out["status"] == "accepted" and out["message_type"] == "SupervisionEvent"
            wait_until(lambda: client.get("/api/v1/inbox", headers=auth("530581JC")).json()["items"] != [],
                       what="the procuratorate's copy")
            item = client.get("/api/v1/inbox", headers=auth("530581JC")).json()["items"][0]
            assert item["message_id"] == out["message_id"]
            assert "<name>阿依古丽·买买提</name>" in item["payload"]
            assert "<caseNumber>（2026）云0502刑初123号</caseNumber>" in item["payload"]
            assert "<kind>ADMONITION</kind>" in item["payload"]

            # And a record the township schema refuses is reported at its native element
            bad = township["sample.xml"].replace("<LX>XJ</LX>", "<LX>QT</LX>").replace("0042", "0043")
            r = client.post("/api/v1/inbound/township", content=bad.encode(), headers=auth("530581SF"))
            assert r.status_code == 422, r.text
            problems = r.json()["outcomes"][0]["problems"]
            assert any(p.get("path") == "/JGSJ/LX" and "QT" in p["reason"] for p in problems), problems
    finally:
        hub.stop()
        recipients.stop()

    # And the adapter encodes the canonical message back into the app's own format
    from adapters import DecodeContext, get_adapter
    from tests.adapters.support import RECEIVED_AT

    adapter = get_adapter("township")
    rec = next(iter(adapter.decode(township["sample.xml"].encode(), DecodeContext("530581SF", RECEIVED_AT))))
    assert rec.ok and rec.canonical is not None
    native = adapter.encode(rec.canonical, message_type="SupervisionEvent").body.decode()
    assert "<XM>阿依古丽·买买提</XM>" in native and "<LX>XJ</LX>" in native
