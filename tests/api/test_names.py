"""Names checked where they enter: districts (id or zh-CN alias), situation types, severities."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from sitaware.names import UnknownName, district_names, severity, situation_type, subscription_names
from sitaware.settings import Settings
from sitaware.tail import check_filters


@pytest.fixture
def districts():
    return district_names(Settings().districts_file)


def test_a_zh_name_is_an_alias_of_the_id(districts):
    assert districts.resolve("Dongping") == districts.resolve("东平区") == "Dongping"
    assert districts.resolve_all(["南湖区", "Nanhu", "东平区"]) == ["Nanhu", "Dongping"]
    with pytest.raises(UnknownName) as caught:
        districts.resolve("dongping")  # ids are spelt exactly
    assert "unknown district 'dongping'" in str(caught.value)
    assert caught.value.known[:2] == ["Nanhu (南湖区)", "Zhongshan (中山区)"]


def test_types_and_severities_are_the_contracts():
    assert situation_type("coverage_gap") == "coverage_gap" and severity("critical") == "critical"
    with pytest.raises(UnknownName, match="known situation types: alarm_hotspot, crowd_gathering"):
        situation_type("hotspot")
    with pytest.raises(UnknownName, match="known severities: info, low, medium, high, critical"):
        severity("urgent")


def test_a_subscription_gets_ids_and_unknown_names_name_their_field(districts):
    body = {"districts": ["东平区", "Dongping"], "types": ["alarm_hotspot"], "min_severity": "high", "x": 1}
    assert subscription_names(body, districts) == {**body, "districts": ["Dongping"]}
    with pytest.raises(UnknownName) as caught:
        subscription_names({"types": ["alarm_hotspot", "riot"]}, districts)
    assert caught.value.field == "types.1" and "types.1: unknown situation type 'riot'" in str(caught.value)
    assert subscription_names({"districts": "Nanhu"}, districts) == {"districts": "Nanhu"}  # the record's to refuse


def test_tail_filters_are_checked_before_anything_is_read():
    settings = Settings()
    args = argparse.Namespace(type=["watchlist_hit"], district=["南湖区"], min_severity="info", from_beginning=False)
    assert check_filters(args, settings).district == ["Nanhu"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITAWARE_")}
    # No broker at this address: the name is refused before any connection is tried.
    env["SITAWARE_KAFKA_BOOTSTRAP"] = "127.0.0.1:9"
    for option, value, known in (("--district", "Atlantis", "Dongping (东平区)"),
                                 ("--type", "riot", "cloned_plate")):
        done = subprocess.run([sys.executable, "-m", "sitaware.cli", "tail", option, value], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and f"'{value}'" in done.stderr and known in done.stderr
