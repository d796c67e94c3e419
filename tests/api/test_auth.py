"""Tokens, scopes and labels: plain functions, no services."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from typing import get_args

import pytest

from sitaware.api.auth import Principal, TokenBook, create_token, token_digest
from sitaware.api.situations import cell_bounds
from sitaware.errors import ConfigError
from sitaware.labels import SITUATION_TYPES_ZH
from topics.geo import geohash
from topics.records import SituationType


def test_token_file_holds_only_hashes_and_is_private(tmp_path):
    path = tmp_path / "tokens.json"
    first = create_token(path, "ops", "admin", [])
    second = create_token(path, "nanhu-desk", "dispatcher", ["Nanhu"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert first not in text and second not in text and token_digest(first) in text
    book = TokenBook.load(path)
    assert book.lookup(first) == Principal("ops", "admin")
    assert book.lookup(second) == Principal("nanhu-desk", "dispatcher", frozenset({"Nanhu"}))
    assert book.lookup(first + "x") is None and book.lookup("") is None and book.lookup(None) is None


@pytest.mark.parametrize("content, problem", [
    (None, "does not exist"),
    ("{not json", "not readable JSON"),
    ("{}", "must hold a JSON list"),
    ("[]", "holds no tokens"),
    (json.dumps([{"token_sha256": "ab", "actor": "a", "role": "admin"}]), "token_sha256"),
    (json.dumps([{"token_sha256": "a" * 64, "actor": "a", "role": "root"}]), "role must be one of"),
])
def test_a_bad_tokens_file_fails_fast_naming_the_setting(tmp_path, content, problem):
    path = tmp_path / "tokens.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match="SITAWARE_API_TOKENS_FILE") as caught:
        TokenBook.load(path)
    assert problem in str(caught.value)
    with pytest.raises(ConfigError, match="SITAWARE_API_TOKENS_FILE is not set"):
        TokenBook.load(None)


def test_scope_rules():
    city, nanhu = Principal("a", "viewer"), Principal("b", "dispatcher", frozenset({"Nanhu"}))
    assert city.sees("Dongping") and city.covers([]) and not city.can_write
    assert nanhu.sees("Nanhu") and not nanhu.sees("Dongping") and not nanhu.sees(None)
    assert nanhu.covers(["Nanhu"]) and not nanhu.covers([]) and not nanhu.covers(["Nanhu", "Dongping"])


def test_every_situation_type_has_a_zh_label():
    assert set(SITUATION_TYPES_ZH) == set(get_args(SituationType))


def test_cell_bounds_contain_the_point_they_were_made_from():
    lat, lon = 31.2304, 121.4737
    min_lon, min_lat, max_lon, max_lat = cell_bounds(geohash(lat, lon))
    assert min_lon <= lon < max_lon and min_lat <= lat < max_lat
    assert 0.005 < max_lon - min_lon < 0.02 and cell_bounds("not-a-cell") is None


def _cli(*args, env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITAWARE_")} | env_extra
    return subprocess.run([sys.executable, "-m", "sitaware.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_api_command_fails_fast_without_a_tokens_file(tmp_path):
    missing = tmp_path / "none.json"
    done = _cli("api", env_extra={"SITAWARE_API_TOKENS_FILE": str(missing)})
    assert done.returncode == 2 and f"SITAWARE_API_TOKENS_FILE: {missing} does not exist" in done.stderr


def test_the_token_command_prints_the_token_once_and_stores_its_hash(tmp_path):
    path = tmp_path / "tokens.json"
    done = _cli("api", "token", "--actor", "desk-1", "--role", "dispatcher", "--district", "Nanhu",
                "--file", str(path), env_extra={})
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert TokenBook.load(path).lookup(token) == Principal("desk-1", "dispatcher", frozenset({"Nanhu"}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and token not in path.read_text()
    wrong = _cli("api", "token", "--actor", "x", "--role", "viewer", "--district", "nanhu",
                 "--file", str(path), env_extra={})
    assert wrong.returncode == 2 and "unknown district 'nanhu'" in wrong.stderr
