"""The command-center page in a real (headless) browser against a real API process: the
district map draws, units appear, and a situation published to Kafka after the page has
loaded shows up in its live feed within seconds, with its zh-CN label.
How the browser is driven, and why not `--dump-dom`: see tests/api/browser.py."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from tests.api.browser import Chromium
from tests.api.conftest import PLACES, situation_record
from tests.pipeline.conftest import poll

pytestmark = pytest.mark.stack


@pytest.fixture
def browser(tmp_path):
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    chromium = Chromium(profile).start()
    yield chromium
    chromium.close()


def test_live_situation_appears_on_the_map_page(api, publish, browser, tmp_path):
    run = uuid.uuid4().hex[:8]
    now = datetime.now(timezone.utc).isoformat()
    for n, (status, district) in enumerate([("available", "Nanhu"), ("on_scene", "Dongping")]):
        lat, lon = PLACES[district]
        publish("patrol-gps", f"PC-{run}-{n}", {"unit_id": f"PC-{run}-{n}", "ts": now, "lat": lat + 0.01,
                                                "lon": lon, "unit_type": "police_car", "status": status})

    # The kiosk form: ?token= once; the page keeps it for the tab and drops it from the URL.
    browser.navigate(f"{api.url}/?token={api.tokens['page']}")
    poll(lambda: browser.evaluate("document.querySelectorAll('#layer-districts path').length") == 6,
         timeout=15, message="the six districts drawn")
    poll(lambda: api.call("GET", "/health")[1]["stream_clients"] >= 1, timeout=15,
         message="the page's event stream to be open")
    assert browser.evaluate("location.search") == ""
    assert api.actors["page"] in browser.evaluate("document.getElementById('whoami').textContent")

    summary = f"南湖区测试警情热点 {run}"
    publish("situations", f"alarm_hotspot:{run}", situation_record(f"alarm_hotspot:{run}", "Nanhu", summary))
    item = f"document.querySelector('#feed li[data-event-id=\"alarm_hotspot:{run}\"]')"
    poll(lambda: browser.evaluate(f"{item} && {item}.textContent"), timeout=10,
         message="the situation in the page's live feed")
    text = browser.evaluate(f"{item}.textContent")
    assert summary in text and "警情热点" in text and "南湖区" in text and "高" in text
    poll(lambda: browser.evaluate("document.querySelectorAll('#layer-units .unit').length") >= 2,
         timeout=15, message="the units drawn")
    assert browser.evaluate("document.querySelectorAll('#layer-situations circle').length") >= 1
    assert browser.evaluate("document.getElementById('link').className") == "link up"

    # Filters hide what they exclude without losing it.
    browser.evaluate("document.getElementById('filter-district').value = 'Dongping';"
                     "document.getElementById('filter-district').onchange()")
    assert browser.evaluate(f"{item}.classList.contains('hidden')") is True
    browser.evaluate("document.getElementById('filter-district').value = '';"
                     "document.getElementById('filter-district').onchange()")

    shot = browser.screenshot(tmp_path / "map.png")
    print(f"\nmap page screenshot: {shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert browser.errors == []
