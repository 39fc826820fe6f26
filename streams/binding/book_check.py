"""The running check of the live book: every ``interval_s`` the broker's working orders and net positions
against the trader's last checkpoint (:class:`BookCheck`), and how the trader's checkpoint is read and seen
as a :class:`~streams.live.reconcile.Book` (:func:`trader_reader`, :func:`system_book`, also used by the
startup reconciliation). The comparison itself is pure (``streams.live.reconcile``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from streams.binding.kafka_io import Out
from streams.binding.live import publish_halt
from streams.live.reconcile import Book, BookWatch, InFlight

log = logging.getLogger("hslr.live")


class BookCheck(threading.Thread):
    """Every ``interval_s``: the broker's working orders and net positions vs the trader's
    (``system()``, its last checkpoint), leaving out the orders in flight (:meth:`touch`ed by the order
    gateway and the broker's fills); a difference that lasts (:class:`~streams.live.reconcile.BookWatch`)
    publishes a HALT (issuer ``reconcile``). A broker or Kafka error skips that check (logged)."""

    def __init__(
        self,
        out: Out,
        namespace: str,
        broker: Callable[[], Book],
        system: Callable[[], Book],
        interval_s: float = 60.0,
        watch: BookWatch | None = None,
        in_flight: InFlight | None = None,
    ) -> None:
        super().__init__(daemon=True, name="book-check")
        self.out, self.ns, self.broker, self.system = out, namespace, broker, system
        self.interval_s, self.watch = interval_s, watch or BookWatch()
        self.in_flight = in_flight or InFlight()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.checks = 0
        self.halts: list[str] = []

    def touch(self, client_id: str, event_ms: int) -> None:
        """Order ``client_id`` was just sent, cancelled or reported (decision or transaction time ``event_ms``)."""
        with self.lock:
            self.in_flight.touch(client_id, int(time.time() * 1000), event_ms)

    def run(self) -> None:
        while not self.stop.wait(self.interval_s):
            try:
                broker, system = self.broker(), self.system()
            except Exception as exc:  # noqa: BLE001 - one failed check is logged; the next one retries
                log.warning("book check skipped: %s: %s", type(exc).__name__, exc)
                continue
            with self.lock:
                flying = self.in_flight.ids(int(time.time() * 1000), system.as_of)
            self.checks += 1
            reason = self.watch.check(broker, system, flying)
            if reason:
                publish_halt(self.out, self.ns, reason[:900])
                self.halts.append(reason)
                log.error("HALT published: %s", reason)


def trader_reader(bootstrap: str, namespace: str, config: Any) -> Callable[[], Any]:
    """A reader of the trader's state (the fused worker's last member) at the worker's last checkpoint;
    None before the first. The fused runtime it restores into is built at the first checkpoint and
    reused (models load once)."""
    from streams.binding.kafka_io import CheckpointStore
    from streams.dag import STAGE_FACTORIES, build_stages, fuse
    from streams.runner.runtime import StageRuntime

    store, sid = CheckpointStore(bootstrap, namespace, Out(bootstrap)), "_".join(STAGE_FACTORIES)
    runtime: list[StageRuntime] = []

    def read() -> Any:
        full, offsets = store.load(sid)
        if full is None:
            return None
        if not runtime:
            runtime.append(StageRuntime(fuse(build_stages(config)), namespace=namespace))
        runtime[0].restore(full, offsets)
        return runtime[0].cp.state.members[-1]

    return read


def system_book(trader_state: Any, pairs: tuple[str, ...]) -> Book:
    """The trader's book (``TraderState`` of its last checkpoint, or None) as reconciliation sees it."""
    from streams.live.v20_orders import WorkingOrder

    if trader_state is None:
        return Book({}, {})
    orders = {
        o.client_order_id: WorkingOrder(o.client_order_id, o.pair, o.side * o.leaves, o.price)
        for o in trader_state.orders
        if o.leaves > 0
    }
    held = [
        (p, float(u), float(a))
        for p, u, a in zip(pairs, trader_state.pos, trader_state.avg, strict=False)
        if u
    ]
    positions = {p: u for p, u, _ in held}
    return Book(orders, positions, {p: a for p, _, a in held}, as_of=int(trader_state.last_ts))
