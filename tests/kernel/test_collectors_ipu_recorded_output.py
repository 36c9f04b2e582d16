"""IPU collector against recorded `gcipuinfo.getDevices()` output (C600 system)."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

from labdeck.kernel.collectors.ipu import IpuCollector, parse_metric

DATA = Path(__file__).parent.parent / "data"
OURS = 4242
IPU_KEY = re.compile(
    r"ipu\.\d+\.(average board temp \(C\)|average die temp \(C\)|clock \(MHz\)|ipu power \(W\)"
    r"|ipu utilisation \(%\)|ipu utilisation \(session\) \(%\)|link speed \(GT/s\))"
)


class _Reader:
    """gcipuinfo's reader at its boundary, answering with the recorded poll `current`."""

    def __init__(self, polls: list[list[dict[str, str]]]) -> None:
        self._polls = polls
        self.update_mode = False
        self.current = 0

    def setUpdateMode(self, enabled: bool) -> None:  # noqa: N802 - gcipuinfo's name
        self.update_mode = enabled

    def getDevices(self) -> list[dict[str, str]]:  # noqa: N802 - gcipuinfo's name
        return self._polls[self.current]


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> _Reader:
    polls = json.loads((DATA / "gcipuinfo.json").read_text())["polls"]
    reader = _Reader(polls)
    module = types.ModuleType("fake_gcipuinfo")
    module.gcipuinfo = lambda: reader  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_gcipuinfo", module)
    return reader


def test_parse_metric_units() -> None:
    assert parse_metric("average board temp", "17.8 C") == ("average board temp (C)", 17.8)
    assert parse_metric("clock", "1850MHz") == ("clock (MHz)", 1850.0)
    assert parse_metric("ipu utilisation (session)", "15.65%") == (
        "ipu utilisation (session) (%)",
        15.65,
    )
    assert parse_metric("link speed", "16.0 GT/s") == ("link speed (GT/s)", 16.0)
    assert parse_metric("ipu power", "N/A") is None
    assert parse_metric("clock", "1850 W") is None  # wrong unit: not trusted
    assert parse_metric("board serial number", "0063.0063.822391") is None


def test_first_read_records_every_metric_of_our_ipus_recorded_output(reader: _Reader) -> None:
    collector = IpuCollector(OURS, module="fake_gcipuinfo", tree=lambda pid: {pid})
    assert collector.probe().present
    assert reader.update_mode

    values = collector.sample()

    assert values["ipu.0.average board temp (C)"] == 29.1
    assert values["ipu.0.clock (MHz)"] == 1850.0
    assert values["ipu.1.ipu power (W)"] == 81.9
    assert values["ipu.1.link speed (GT/s)"] == 16.0
    assert values["ipu.0.ipu utilisation (session) (%)"] == 58.03
    assert not any(key.startswith(("ipu.2.", "ipu.3.")) for key in values)  # not ours
    assert len(values) == 14
    assert all(IPU_KEY.fullmatch(key) for key in values)
    devices = collector.info()["devices"]
    assert isinstance(devices, dict) and devices["0"]["board type"] == "C600"


def test_later_reads_record_only_what_changed_recorded_output(reader: _Reader) -> None:
    collector = IpuCollector(OURS, module="fake_gcipuinfo", tree=lambda pid: {pid})
    assert collector.probe().present
    collector.sample()

    reader.current = 1
    changed = collector.sample()
    unchanged = collector.sample()

    assert changed == {
        "ipu.0.average board temp (C)": 30.2,
        "ipu.0.ipu utilisation (%)": 74.0,
        "ipu.0.ipu power (W)": 91.5,
        "ipu.1.ipu utilisation (session) (%)": 58.11,
    }
    assert unchanged == {}


def test_absent_here_is_a_reason() -> None:
    probe = IpuCollector(None, module="labdeck_no_such_gcipuinfo").probe()
    assert not probe.present and probe.reason == "gcipuinfo not installed"
