"""zh-CN display names of the contract's codes (situation types, severities, units).

Codes stay English on the wire and in ClickHouse (docs/surface.md); screens show these names.
One table for every screen (`sitaware api`'s map page, and any terminal view that wants
them), so a name is changed in one place.
"""

from __future__ import annotations

__all__ = [
    "SITUATION_TYPES_ZH",
    "SEVERITIES_ZH",
    "UNIT_TYPES_ZH",
    "UNIT_STATUSES_ZH",
    "API_ROLES_ZH",
    "situation_label",
]

SITUATION_TYPES_ZH: dict[str, str] = {
    "alarm_hotspot": "警情热点",
    "crowd_gathering": "人员聚集",
    "dispatch_recommendation": "派警建议",
    "coverage_gap": "警力空白",
    "response_overdue": "处警超时",
    "arrival_detected": "到场确认",
    "arrival_mismatch": "到场位置不符",
    "unit_offline": "警力离线",
    "watchlist_hit": "布控车辆预警",
    "suspect_near_incident": "嫌疑车辆临近警情",
    "cloned_plate": "疑似套牌",
    "flow_anomaly": "卡口流量异常",
}

SEVERITIES_ZH: dict[str, str] = {
    "info": "提示",
    "low": "低",
    "medium": "中",
    "high": "高",
    "critical": "紧急",
}

UNIT_TYPES_ZH: dict[str, str] = {
    "police_car": "警车",
    "foot_patrol": "步巡",
    "motorcycle": "摩托巡逻",
    "security_guard": "保安",
    "grid_worker": "网格员",
}

UNIT_STATUSES_ZH: dict[str, str] = {
    "available": "空闲",
    "dispatched": "已派警",
    "on_scene": "在现场",
    "off_duty": "下班",
}

API_ROLES_ZH: dict[str, str] = {
    "viewer": "查看",
    "dispatcher": "调度",
    "admin": "管理员",
}


def situation_label(situation_type: str) -> str:
    """The zh-CN name of a situation type; the code itself for an unknown (newer) type."""
    return SITUATION_TYPES_ZH.get(situation_type, situation_type)
