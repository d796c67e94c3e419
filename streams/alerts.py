"""Which situations a subscription gets (docs/surface.md, Subscriptions and alerts): matching, cooldown and alert ids.

Pure functions over plain data, like the situation models; `streams/agents/alerts.py`
moves the records.

Matching: the subscription is enabled; `types` empty or naming the situation's type;
severity at least `min_severity`; `districts` empty or naming the situation's district;
`bbox` absent, or the situation has a place inside it (edges included).

Cooldown: per subscription, a situation whose (type, cell — or subject when it has no
cell) repeats one already alerted less than `cooldown_s` before, in event time, is
suppressed. So a hotspot that keeps firing in one cell alerts once per cooldown; an
out-of-order older situation is judged against the alerted ones around it.

Alert ids are deterministic — (subscription_id, event_id) — so a situation re-delivered
or re-emitted after a restart is the same alert: the state remembers it and a webhook
retry carries the same `webhook-id`.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from streams.situations._common import StateModel
from topics.records import Instant, Situation, Subscription

__all__ = ["AlertState", "SEVERITY_RANK", "alert_id", "cooldown_key", "matches", "admit_alert"]

SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
KEEP_IDS = timedelta(days=1)  # alert ids remembered (in event time) to ignore repeats


def matches(subscription: Subscription, situation: Situation) -> bool:
    if not subscription.enabled:
        return False
    if subscription.types and situation.type not in subscription.types:
        return False
    if SEVERITY_RANK[situation.severity] < SEVERITY_RANK[subscription.min_severity]:
        return False
    if subscription.districts and situation.district not in subscription.districts:
        return False
    if subscription.bbox is not None:
        if situation.lat is None or situation.lon is None:
            return False
        min_lon, min_lat, max_lon, max_lat = subscription.bbox
        if not (min_lon <= situation.lon <= max_lon and min_lat <= situation.lat <= max_lat):
            return False
    return True


def alert_id(subscription_id: str, event_id: str) -> str:
    digest = hashlib.sha256(f"{subscription_id}|{event_id}".encode()).hexdigest()[:24]
    return f"alert:{digest}"


def cooldown_key(situation: Situation) -> str:
    return f"{situation.type}|{situation.cell or situation.subject or ''}"


class Alerted(StateModel):
    key: str
    event_time: Instant


class AlertState(StateModel):
    """One subscription's memory. Key: subscription_id."""

    subscription_id: str
    alerts: dict[str, Instant] = {}  # alert_id -> event_time, for repeats
    alerted: tuple[Alerted, ...] = ()  # sent alerts by cooldown key, sorted by event_time


def admit_alert(
    state: AlertState | None, subscription: Subscription, situation: Situation
) -> tuple[AlertState, str | None, str]:
    """Decide one matched situation: (new state, alert_id or None, why).

    why is "new" (send it), "repeat" (already handled: the caller re-sends only what may
    have been lost) or "cooldown" (suppressed).
    """
    state = state or AlertState(subscription_id=subscription.subscription_id)
    aid = alert_id(subscription.subscription_id, situation.event_id)
    if aid in state.alerts:
        return state, aid, "repeat"
    key, at = cooldown_key(situation), situation.event_time
    cooldown = timedelta(seconds=subscription.cooldown_s)
    if any(a.key == key and abs(at - a.event_time) < cooldown for a in state.alerted):
        return state, None, "cooldown"
    horizon = max([at, *state.alerts.values()]) - max(KEEP_IDS, cooldown)
    alerts = {k: t for k, t in state.alerts.items() if t >= horizon}
    alerts[aid] = at
    alerted = tuple(sorted((*(a for a in state.alerted if a.event_time >= horizon), Alerted(key=key, event_time=at)),
                           key=lambda a: a.event_time))
    return state.model_copy(update={"alerts": alerts, "alerted": alerted}), aid, "new"
