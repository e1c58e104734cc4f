"""Shipped data: the canonical XSDs and their samples (checked by two validators), the broker topology, data paths."""

from __future__ import annotations

import copy
import importlib.util
import shutil
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from hub.bus.topology import build_topology
from hub.canonical import NS, load_schema, parse
from hub.core.routing import MESSAGE_TYPES, route
from hub.errors import InvalidMessage
from hub.registry import load_registry
from hub.resources import canonical_schema_path, data_dir, default_registry_path, topology_path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "schemas" / "canonical" / "v1" / "samples").glob("*.xml"))
N = {"x": NS}


@pytest.fixture(scope="module")
def lxml_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(canonical_schema_path())))


@pytest.fixture(scope="module")
def xsd() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(canonical_schema_path()))


def sample_type(path: Path) -> str:
    return path.stem.split("-")[0]


def test_there_are_samples() -> None:
    assert len(SAMPLES) >= len(MESSAGE_TYPES)


def test_every_message_type_has_a_sample_and_every_sample_is_a_message_type() -> None:
    types = {sample_type(p) for p in SAMPLES}
    assert types == set(MESSAGE_TYPES)


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_is_valid_for_lxml_and_xmlschema_and_parses(sample: Path, lxml_schema: etree.XMLSchema,
                                                           xsd: xmlschema.XMLSchema) -> None:
    raw = sample.read_bytes()
    doc = etree.fromstring(raw).getroottree()
    # Given a shipped sample, both validators accept it
    assert lxml_schema.validate(doc), lxml_schema.error_log
    xsd.validate(str(sample))  # raises with the reason if not valid
    # And the hub parses it as the type its root names, with the envelope read
    c = parse(raw).canonical
    assert c.message_type == sample_type(sample) == etree.QName(doc.getroot()).localname
    assert doc.getroot().findtext("x:envelope/x:messageType", namespaces=N) == c.message_type
    assert c.message_id and c.sender and c.sender_document_id
    # And, in the 保山 registry, every required recipient of it is found
    routes = route(c, load_registry(default_registry_path()))
    assert [r for r in routes if r.agency is None] == []
    assert routes if c.message_type != "TechnicalAck" else routes == []


def without(raw: bytes, xpath: str) -> bytes:
    root = etree.fromstring(raw)
    hits = root.xpath(xpath, namespaces=N)
    assert hits, f"{xpath} not in the sample"
    node = hits[0]
    node.getparent().remove(node)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


REQUIRED = ["x:envelope/x:messageId", "x:envelope/x:sender", "x:envelope/x:sentAt", "x:envelope/x:messageType",
            "*[last()]"]


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
@pytest.mark.parametrize("xpath", REQUIRED)
def test_removing_a_required_element_fails_validation(sample: Path, xpath: str, lxml_schema: etree.XMLSchema,
                                                      xsd: xmlschema.XMLSchema) -> None:
    # Given a sample with a required element removed
    bad = without(sample.read_bytes(), xpath)
    # Then neither validator accepts it
    assert not lxml_schema.validate(etree.fromstring(bad).getroottree())
    assert not xsd.is_valid(bad.decode())
    # And the hub refuses it as schema_invalid, naming where
    with pytest.raises(InvalidMessage) as e:
        parse(bad)
    assert e.value.code == "schema_invalid"
    assert e.value.status == 422
    assert e.value.problems
    doc = etree.fromstring(bad).getroottree()
    for p in e.value.problems:
        # the path is an XPath that finds the element the reason is about
        assert p.path and p.path.startswith("/"), p
        hits = doc.xpath(p.path, namespaces=N)
        assert len(hits) == 1, p
        assert f"'{etree.QName(hits[0]).localname}'" in p.reason, p


@pytest.mark.parametrize("sample", [p for p in SAMPLES if etree.parse(str(p)).getroot().find("x:case", N)
                                    is not None], ids=lambda p: p.name)
def test_removing_the_place_of_execution_fails_validation(sample: Path, xsd: xmlschema.XMLSchema) -> None:
    bad = without(sample.read_bytes(), "x:case/x:executionDivision")
    assert not xsd.is_valid(bad.decode())
    with pytest.raises(InvalidMessage) as e:
        parse(bad)
    assert e.value.code == "schema_invalid"
    doc = etree.fromstring(bad).getroottree()
    assert any(doc.xpath(str(p.path), namespaces=N) == doc.xpath("x:case", namespaces=N) for p in e.value.problems)


def test_a_schema_error_path_names_the_elements_readably() -> None:
    # Given a judgment without its place of execution
    bad = without((ROOT / "schemas/canonical/v1/samples/SentencingDecision.xml").read_bytes(),
                  "x:case/x:executionDivision")
    with pytest.raises(InvalidMessage) as e:
        parse(bad)
    # Then the path names where, readably (e.g. /SentencingDecision/case): an operator or a sending agency's
    # developer must not have to count elements in '/*/*[3]' to find it
    paths = [str(p.path) for p in e.value.problems]
    assert ["SentencingDecision", "case"] in [named_steps(p) for p in paths], paths


def named_steps(path: str) -> list[str]:
    """The element names along an XPath, whatever the prefix style: '/x:A/{ns}b[2]' → ['A', 'b']."""
    return [step.split("[")[0].split("}")[-1].split(":")[-1] for step in path.split("/") if step]


def test_an_unexpected_extra_element_fails_validation(lxml_schema: etree.XMLSchema) -> None:
    root = etree.parse(str(SAMPLES[0])).getroot()
    env = root.find("x:envelope", N)
    extra = copy.deepcopy(env.find("x:sender", N))
    extra.tag = f"{{{NS}}}priority"
    env.append(extra)
    assert not lxml_schema.validate(root.getroottree())


def test_the_hub_compiles_the_same_schema_once() -> None:
    assert load_schema() is load_schema()


# ---- queue/: data, never a package -------------------------------------------------------------------


def test_queue_folder_holds_no_python() -> None:
    queue_dir = ROOT / "queue"
    assert queue_dir.is_dir()
    assert [p for p in queue_dir.rglob("*") if p.suffix in (".py", ".pyc") or p.name == "__pycache__"] == []


def test_import_queue_is_the_standard_library() -> None:
    import queue

    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert Path(str(queue.__file__)).resolve().parent == stdlib
    assert hasattr(queue, "SimpleQueue")


def test_topology_for_rabbitmq_has_quorum_queues_dead_lettering_and_the_retry_tiers() -> None:
    t = build_topology(broker_url="amqp://guest:guest@127.0.0.1:5672//")
    assert set(t.queues) >= {"deliver", "dead"}
    assert t.deliver.name == "xianjie.deliver"
    assert t.deliver.exchange.name == "xianjie.work" and t.deliver.exchange.type == "direct"
    assert t.deliver.routing_key == t.deliver_routing_key == "deliver"
    assert t.deliver.durable
    assert t.deliver.queue_arguments == {"x-queue-type": "quorum", "x-dead-letter-exchange": "xianjie.dead"}
    dead = t.queues["dead"]
    assert dead.name == "xianjie.dead" and dead.exchange.type == "fanout"
    assert dead.queue_arguments == {"x-queue-type": "quorum"}
    assert t.work_exchange is t.exchanges["work"]
    assert t.retry.tiers == (60.0, 300.0, 1800.0, 7200.0, 21600.0)
    assert t.retry.inline_attempts >= 1
    assert t.prefetch > 0 and t.confirm_publish is True


def test_topology_for_the_embedded_broker_has_the_same_queues_without_rabbitmq_arguments(tmp_path: Path) -> None:
    t = build_topology(broker_url=f"sqla+sqlite:///{tmp_path}/broker.db", prefix="t1.")
    assert t.deliver.name == "t1.xianjie.deliver"
    assert t.queues["dead"].name == "t1.xianjie.dead"
    assert t.deliver.exchange.name == "t1.xianjie.work"
    assert not t.deliver.queue_arguments and not t.queues["dead"].queue_arguments
    assert t.retry == build_topology(broker_url="amqp://localhost//").retry


def test_every_queue_dead_letters_to_a_declared_exchange() -> None:
    with topology_path().open("rb") as f:
        data = tomllib.load(f)
    for name, q in data["queues"].items():
        assert q["exchange"] in data["exchanges"], name
        if "dead_letter" in q:
            assert q["dead_letter"] in data["exchanges"], name


# ---- the data ships inside the wheel ----------------------------------------------------------------


def test_shipped_data_resolves_in_a_checkout() -> None:
    assert canonical_schema_path().is_file()
    assert canonical_schema_path().name == "xianjie.xsd"
    assert topology_path().is_file()
    assert default_registry_path().is_file()
    assert data_dir("schemas") == ROOT / "schemas"


def test_the_wheel_includes_the_folders_resources_looks_for() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        wheel = tomllib.load(f)["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"] == {"schemas": "hub/_data/schemas", "queue": "hub/_data/queue"}
    assert "hub" in wheel["packages"]


def test_shipped_data_resolves_in_an_installed_layout(tmp_path: Path) -> None:
    # Given hub/resources.py installed as the wheel lays it out: data under hub/_data, no checkout around it
    site = tmp_path / "site-packages"
    (site / "hub" / "_data").mkdir(parents=True)
    shutil.copy(ROOT / "hub" / "resources.py", site / "hub" / "resources.py")
    shutil.copytree(ROOT / "schemas", site / "hub" / "_data" / "schemas")
    shutil.copytree(ROOT / "queue", site / "hub" / "_data" / "queue")
    spec = importlib.util.spec_from_file_location("installed_hub_resources", site / "hub" / "resources.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)
        # Then every path resolves inside the installed package
        assert mod.canonical_schema_path() == site / "hub" / "_data" / "schemas" / "canonical" / "v1" / "xianjie.xsd"
        assert mod.canonical_schema_path().is_file()
        assert mod.topology_path() == site / "hub" / "_data" / "queue" / "topology.toml"
        # And the schema compiles from there (its includes are relative)
        etree.XMLSchema(etree.parse(str(mod.canonical_schema_path())))
        # And a missing folder is named
        with pytest.raises(FileNotFoundError, match="nowhere"):
            mod.data_dir("nowhere")
    finally:
        del sys.modules[spec.name]
