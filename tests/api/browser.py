"""Debian's headless Chromium, driven over the DevTools protocol with aiohttp's websocket
client — no browser-automation dependency, no browser download.

Why not `chromium --dump-dom` / `--screenshot`: the map page keeps an EventSource open.
Without `--virtual-time-budget` Chromium dumps at the load event, before the page has
fetched anything; with it, virtual time never runs out while a network fetch is pending,
so the dump never comes (tried: still running after 60 s). Over DevTools the test decides
when to look: it reads the live DOM until the situation shows, then takes the screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import aiohttp

__all__ = ["Chromium", "FLAGS"]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


class Chromium:
    def __init__(self, profile: Path, size: tuple[int, int] = (1600, 1000)):
        self.profile = profile
        self.size = size
        self.proc: subprocess.Popen | None = None
        self.errors: list[str] = []  # uncaught page exceptions and console errors
        self._loop = asyncio.new_event_loop()
        self._session = self._ws = None
        self._ids = 0

    def start(self) -> "Chromium":
        binary = shutil.which("chromium")
        assert binary, "chromium is not installed (deploy/install-system-deps.sh installs it)"
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
             f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"  # Chromium writes its port here
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert self.proc.poll() is None and time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.loads(r.read()) if t["type"] == "page")
        self._run(self._connect(page["webSocketDebuggerUrl"]))
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.size[0], height=self.size[1],
                  deviceScaleFactor=1, mobile=False)
        return self

    def _run(self, coroutine):
        return self._loop.run_until_complete(coroutine)

    async def _connect(self, url: str) -> None:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(url, max_msg_size=0)

    async def _call(self, method: str, params: dict) -> dict:
        self._ids += 1
        await self._ws.send_json({"id": self._ids, "method": method, "params": params})
        while True:
            message = json.loads((await self._ws.receive(timeout=30)).data)
            if message.get("id") == self._ids:
                assert "error" not in message, message["error"]
                return message.get("result", {})
            if message.get("method") == "Runtime.exceptionThrown":
                self.errors.append(message["params"]["exceptionDetails"].get("text", "exception"))
            elif message.get("method") == "Runtime.consoleAPICalled" and message["params"]["type"] == "error":
                self.errors.append(" ".join(str(a.get("value", a.get("description")))
                                            for a in message["params"]["args"]))

    def call(self, method: str, **params) -> dict:
        return self._run(self._call(method, params))

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        if self._ws is not None:
            self._run(self._ws.close())
            self._run(self._session.close())
        self._loop.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
