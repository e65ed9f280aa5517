"""Fan-out of budget alerts to StreamAlerts subscribers on every replica, via LISTEN/NOTIFY.

Whichever replica commits the crossing sends a NOTIFY in that transaction; each replica keeps one
dedicated connection LISTENing and hands every alert to its local subscribers. If that connection
drops, the hub reconnects and replays from the alerts table whatever it missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from tollgate.budget_ledger.alerts import ALERT_CHANNEL, Alert, alert_from_row

log = logging.getLogger("tollgate.budget_ledger.alert_stream")

_REMEMBERED_IDS = 10_000
_REPLAY_MARGIN = timedelta(seconds=60)

_MISSED_SINCE = """
    SELECT a.id, a.tenant_id, b.scope_kind, b.subject_id, b.period, a.period_start,
           a.threshold_percent, a.spent_micros, a.limit_micros, a.created_at
    FROM budget_alerts a JOIN budgets b ON b.id = a.budget_id
    WHERE a.created_at > $1
    ORDER BY a.id
"""


class SubscriberTooSlow(Exception):
    """A subscriber let its queue fill up; its stream ends so it can reconnect."""


@dataclass(eq=False)
class Subscription:
    tenant_id: str
    queue: asyncio.Queue[Alert]
    overflowed: bool = field(default=False)

    def wants(self, alert: Alert) -> bool:
        return not self.tenant_id or alert.scope.tenant_id == self.tenant_id


class AlertHub:
    def __init__(self, queue_size: int, reconnect_seconds: float = 1.0) -> None:
        self._dsn = ""
        self._queue_size = queue_size
        self._reconnect_seconds = reconnect_seconds
        self._subscriptions: set[Subscription] = set()
        self._conn: asyncpg.Connection | None = None
        # Ids of alerts already handed out (bounded), so a replay never delivers twice.
        self._delivered: dict[int, None] = {}
        # When the listener was last known connected: a replay after a drop starts before it.
        self._last_healthy: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    async def start(self, dsn: str) -> None:
        self._dsn = dsn
        await self._connect()
        self._task = asyncio.create_task(self._supervise(), name="budget-ledger-alert-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant_id: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(tenant_id, asyncio.Queue(self._queue_size))
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    async def next_alert(self, subscription: Subscription) -> Alert:
        if subscription.overflowed and subscription.queue.empty():
            raise SubscriberTooSlow
        return await subscription.queue.get()

    def publish(self, alert: Alert) -> None:
        if alert.id in self._delivered:
            return  # a replay after reconnecting overlapped a notification
        self._delivered[alert.id] = None
        if len(self._delivered) > _REMEMBERED_IDS:
            del self._delivered[next(iter(self._delivered))]
        for subscription in self._subscriptions:
            if not subscription.wants(alert):
                continue
            try:
                subscription.queue.put_nowait(alert)
            except asyncio.QueueFull:
                subscription.overflowed = True

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        await conn.add_listener(ALERT_CHANNEL, self._on_notification)
        if self._last_healthy is not None:
            # Alerts stamped a little before the drop may have committed after it.
            since = self._last_healthy - _REPLAY_MARGIN
            for row in await conn.fetch(_MISSED_SINCE, since):
                self.publish(alert_from_row(row))
        self._conn = conn
        self._last_healthy = datetime.now(UTC)

    def _on_notification(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            alert = Alert.from_json(str(payload))
        except (ValueError, KeyError):
            log.warning("ignored a malformed alert notification", extra={"payload": payload})
            return
        self.publish(alert)

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(self._reconnect_seconds)
            if self._conn is not None and not self._conn.is_closed():
                self._last_healthy = datetime.now(UTC)
                continue
            try:
                await self._connect()
                log.info("alert listener reconnected")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("alert listener cannot reach the database; retrying", exc_info=True)
