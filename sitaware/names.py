"""The names operators type: districts, situation types and severities, checked where they
enter (the CLI, the API) so that a misspelt filter or subscription fails loudly instead of
silently matching nothing.

District ids are the `properties.district` of the city's GeoJSON (SITAWARE_DISTRICTS_FILE,
pinyin such as `Dongping`); the zh-CN name of a feature (`properties.name_zh`, `东平区`) is
accepted as an alias and normalised to the id, which is what situations and subscriptions
carry. Situation types and severities are the contract's (§3), spelt exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, get_args

from sitaware.errors import ConfigError
from topics.records import SEVERITY_RANK, SituationType

__all__ = ["UnknownName", "DistrictNames", "SITUATION_TYPES", "SEVERITIES", "district_names",
           "situation_type", "severity", "subscription_names"]

SITUATION_TYPES: tuple[str, ...] = get_args(SituationType)
SEVERITIES: tuple[str, ...] = tuple(SEVERITY_RANK)
_ALIAS_PROPERTY = "name_zh"


class UnknownName(ConfigError):
    """A name that is not one of the known ones; carries them for the caller to show."""

    def __init__(self, kind: str, value: str, known: list[str], field: str | None = None):
        self.kind, self.value, self.known, self.field = kind, value, known, field
        where = f"{field}: " if field else ""
        plural = "severities" if kind == "severity" else f"{kind}s"
        super().__init__(f"{where}unknown {kind} {value!r}; known {plural}: {', '.join(known)}")


@dataclass(frozen=True)
class DistrictNames:
    """The city's district ids in file order, and the zh-CN alias of each."""

    ids: tuple[str, ...]
    aliases: dict[str, str]  # zh-CN name -> id

    @classmethod
    def from_geojson(cls, path: str | Path) -> "DistrictNames":
        try:
            features = json.loads(Path(path).read_text(encoding="utf-8"))["features"]
            properties = [f.get("properties") or {} for f in features]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"SITAWARE_DISTRICTS_FILE: {path} is not a readable district GeoJSON "
                              f"({type(exc).__name__})") from None
        ids = tuple(dict.fromkeys(p["district"] for p in properties if isinstance(p.get("district"), str)))
        if not ids:
            raise ConfigError(f"SITAWARE_DISTRICTS_FILE: {path} names no districts (properties.district)")
        aliases = {p[_ALIAS_PROPERTY]: p["district"] for p in properties
                   if isinstance(p.get(_ALIAS_PROPERTY), str) and p.get("district") in ids}
        return cls(ids, aliases)

    def known(self) -> list[str]:
        """For messages: `Dongping (东平区)`."""
        by_id = {district: alias for alias, district in self.aliases.items()}
        return [f"{d} ({by_id[d]})" if d in by_id else d for d in self.ids]

    def resolve(self, name: str) -> str:
        """The district id of an id or alias; UnknownName otherwise."""
        if name in self.ids:
            return name
        if name in self.aliases:
            return self.aliases[name]
        raise UnknownName("district", name, self.known())

    def resolve_all(self, names: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(self.resolve(n) for n in names))


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int) -> DistrictNames:
    return DistrictNames.from_geojson(path)


def district_names(path: str | Path) -> DistrictNames:
    """The districts of the file, read once per version of it."""
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError:
        raise ConfigError(f"SITAWARE_DISTRICTS_FILE: {path} does not exist") from None
    return _cached(str(path), mtime)


def situation_type(name: str) -> str:
    if name not in SITUATION_TYPES:
        raise UnknownName("situation type", name, list(SITUATION_TYPES))
    return name


def severity(name: str) -> str:
    if name not in SEVERITIES:
        raise UnknownName("severity", name, list(SEVERITIES))
    return name


def subscription_names(body: dict, districts: DistrictNames) -> dict:
    """A subscription's JSON object with its names checked and district aliases made ids;
    UnknownName (naming the field) for the first unknown one. Values of the wrong JSON type
    are left for the record's own validation to report."""
    out = dict(body)

    def check(field: str, values, resolve):
        if not isinstance(values, list):
            return values
        resolved = []
        for number, value in enumerate(values):
            if not isinstance(value, str):
                resolved.append(value)
                continue
            try:
                resolved.append(resolve(value))
            except UnknownName as exc:
                raise UnknownName(exc.kind, exc.value, exc.known, f"{field}.{number}") from None
        return list(dict.fromkeys(resolved)) if all(isinstance(v, str) for v in resolved) else resolved

    if "districts" in out:
        out["districts"] = check("districts", out["districts"], districts.resolve)
    if "types" in out:
        out["types"] = check("types", out["types"], situation_type)
    if isinstance(out.get("min_severity"), str):
        try:
            severity(out["min_severity"])
        except UnknownName as exc:
            raise UnknownName(exc.kind, exc.value, exc.known, "min_severity") from None
    return out
