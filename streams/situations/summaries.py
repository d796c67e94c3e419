"""The one-sentence summaries of every situation type, zh-CN by default, English for "en".

All templates live here so wording stays consistent across types. Templates take only
ids and figures: never an address, a free-text alarm summary or a caller phone. A plate
appears where the situation is about a vehicle (command centers need it); the ClickHouse
row replaces it by its pseudonym (`streams.app.situation_row`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["TEMPLATES", "summarize"]

TEMPLATES: dict[str, dict[str, str]] = {
    "alarm_hotspot": {
        "zh-CN": "网格 {cell} 在 {window_min:g} 分钟内收到 {count:g} 起警情，形成警情热点。",
        "en": (
            "Cell {cell} received {count:g} alarms within {window_min:g} minutes: "
            "an alarm hotspot."
        ),
    },
    "crowd_gathering": {
        "zh-CN": (
            "网格 {cell} 在 {window_min:g} 分钟内收到 {count:g} 起纠纷或聚集类警情，"
            "疑似人员聚集。"
        ),
        "en": (
            "Cell {cell} received {count:g} dispute or gathering alarms within "
            "{window_min:g} minutes: a possible crowd gathering."
        ),
    },
    "dispatch_recommendation": {
        "zh-CN": (
            "警情 {alarm_id} 建议派遣 {units}，最近警力距现场 {distance_km:.2f} 公里，"
            "预计 {eta_min:.1f} 分钟到达。"
        ),
        "en": (
            "For alarm {alarm_id}, dispatch {units}; the nearest is {distance_km:.2f} km "
            "away, about {eta_min:.1f} minutes."
        ),
    },
    "coverage_gap": {
        "zh-CN": (
            "警情 {alarm_id} 现场 {radius_km:g} 公里内无可用警力，"
            "附近有 {auxiliary:g} 名辅助力量。"
        ),
        "en": (
            "No available police unit within {radius_km:g} km of alarm {alarm_id}; "
            "auxiliary units nearby: {auxiliary:g}."
        ),
    },
    "response_overdue": {
        "zh-CN": "{priority:g} 级警情 {alarm_id} 超过 {sla_min:g} 分钟响应时限仍无警力到场。",
        "en": (
            "Priority {priority:g} alarm {alarm_id} has no unit on scene after its "
            "{sla_min:g}-minute limit."
        ),
    },
    "arrival_detected": {
        "zh-CN": "{unit_id} 已到达警情 {alarm_id} 现场，响应用时 {response_min:.1f} 分钟。",
        "en": (
            "Unit {unit_id} reached the scene of alarm {alarm_id} after "
            "{response_min:.1f} minutes."
        ),
    },
    "arrival_mismatch": {
        "zh-CN": "{unit_id} 上报到达警情 {alarm_id}，但其定位距现场 {distance_km:.2f} 公里。",
        "en": (
            "Unit {unit_id} reported arrival at alarm {alarm_id} but its position is "
            "{distance_km:.2f} km from the scene."
        ),
    },
    "unit_offline": {
        "zh-CN": "{unit_id} 已 {silence_min:g} 分钟未回传定位。",
        "en": "Unit {unit_id} has sent no position for {silence_min:g} minutes.",
    },
    "watchlist_hit": {
        "zh-CN": "{level:g} 级布控车辆 {plate} 经过卡口 {checkpoint_id}。",
        "en": "Level {level:g} watch-listed vehicle {plate} passed checkpoint {checkpoint_id}.",
    },
    "suspect_near_incident": {
        "zh-CN": (
            "布控车辆 {plate} 经过卡口 {checkpoint_id}，距警情 {alarm_id} 现场 "
            "{distance_km:.2f} 公里，时间相差 {gap_min:.0f} 分钟。"
        ),
        "en": (
            "Watch-listed vehicle {plate} passed checkpoint {checkpoint_id}, "
            "{distance_km:.2f} km from alarm {alarm_id} and {gap_min:.0f} minutes apart."
        ),
    },
    "cloned_plate": {
        "zh-CN": (
            "号牌 {plate} 在 {gap_min:.1f} 分钟内先后出现在相距 {distance_km:.1f} 公里的卡口 "
            "{first_checkpoint_id} 与 {second_checkpoint_id}，疑似套牌。"
        ),
        "en": (
            "Plate {plate} passed checkpoints {first_checkpoint_id} and "
            "{second_checkpoint_id}, {distance_km:.1f} km apart, within {gap_min:.1f} "
            "minutes: a possible cloned plate."
        ),
    },
    "flow_anomaly": {
        "zh-CN": (
            "卡口 {checkpoint_id} 在 {window_min:g} 分钟内通过 {count:g} 辆车，"
            "近期基线为 {baseline:g} 辆，流量异常。"
        ),
        "en": (
            "Checkpoint {checkpoint_id} counted {count:g} passes in {window_min:g} minutes "
            "against a recent baseline of {baseline:g}: a flow anomaly."
        ),
    },
}

_LIST_SEPARATOR = {"zh-CN": "、", "en": ", "}


def summarize(type_: str, locale: str = "zh-CN", **fields: object) -> str:
    """One sentence for a situation; any locale other than "en" gives zh-CN."""
    lang = "en" if locale == "en" else "zh-CN"
    values = {
        name: value if isinstance(value, str) or not isinstance(value, Sequence)
        else _LIST_SEPARATOR[lang].join(value)
        for name, value in fields.items()
    }
    return TEMPLATES[type_][lang].format(**values)
