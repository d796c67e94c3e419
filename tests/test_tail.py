import argparse

from sitaware.tail import format_line, wanted

SITUATION = {
    "event_id": "alarm_hotspot:1", "type": "alarm_hotspot", "severity": "medium",
    "event_time": "2026-03-02T00:10:58.821Z", "district": "Dongping", "cell": "wtw1rn",
    "summary": "网格 wtw1rn 15 分钟内接警 5 起，形成警情热点",
}


def test_line_shows_local_time_severity_type_place_and_summary():
    line = format_line(SITUATION)
    assert line.startswith("03-02 08:10:58  medium")
    assert "alarm_hotspot" in line and "Dongping" in line and line.endswith(SITUATION["summary"])


def test_filters_by_type_district_and_severity():
    args = argparse.Namespace(type=None, district=["Dongping"], min_severity="medium")
    assert wanted(SITUATION, args)
    assert not wanted(SITUATION, argparse.Namespace(type=["coverage_gap"], district=None, min_severity="info"))
    assert not wanted(SITUATION, argparse.Namespace(type=None, district=None, min_severity="high"))
