"""Trader stage: risk & portfolio engine, execution router, paper broker and PnL in one pure stage.

Reads ``signals.governed`` (primary), ``control`` and, with ``fill_source = "broker"``,
``broker.fills`` (side inputs; a live broker's execution reports replace the paper broker); writes
``risk.targets``, ``orders``, ``fills`` (execution reports), ``portfolio`` and ``control``. One stage,
because sizing needs the equity and drawdown that its own fills produce: a feedback edge across
stages would make Kafka and in-process replays diverge.

Minute rule (batch-split invariance): decisions for minute ``t`` need every pair's bar of ``t``, and
a batch may end inside a minute, so the records of the newest minute are kept in the state
(``pending``) until the minute is complete: minute ``t`` is decided as soon as every expected pair
(the market's configured pairs) has its record of ``t``, or else when the first record of a later
minute arrives (a pair missing that minute: a gap), or when a watermark (a live feed's minute-close
marker, :meth:`TraderStage.on_watermark`) says no bar of ``t`` will follow. Either way ``t`` is decided exactly once,
before anything of a later minute, so the outputs do not depend on batching; live, a complete minute
is decided on its last bar's arrival, and only a minute with a missing pair waits one bar of wall time.
The decision is timed at the bar close ``t + 1 min`` (orders, acknowledgements and the fills of bar
``t`` carry that time). Records at or before the last decided minute are replays or late arrivals
and are ignored, as are repeats of a (pair, ts) already pending.

Per minute (:meth:`TraderStage._minute`): due control commands -> due broker reports
(:mod:`~streams.stages.trader.execution.broker_reports`) -> staleness check -> cancel sweep (kill /
HALT) -> paper fills of working orders on this bar -> mark to market (equity, HWM, drawdown,
throttle) -> mark-outs and toxicity -> targets (exits, reductions, entries; skipped while killed or
globally halted) -> routing. Stretches of minutes where nothing can happen (no working
order, no passed signal, no exit / reduction trigger, no due command or mark-out, no stale gap) are
fast-forwarded with array arithmetic that performs the same operations as the per-minute path, so
the fast path changes speed, never results.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from streams.core.batch import Batch
from streams.core.config import StageConfig
from streams.core.stage import Outputs, StageSpec
from streams.core.units import MINUTE_MS
from streams.stages.trader.execution import broker_reports, killswitch, report_queue
from streams.stages.trader.execution.broker import NoFills, PaperBroker
from streams.stages.trader.execution.config import ExecutionConfig
from streams.stages.trader.execution.killswitch import accept_signed, apply_due, command, enqueue
from streams.stages.trader.execution.records import (
    CONTROL_FIELDS,
    ORDER_FIELDS,
    PORTFOLIO_FIELDS,
    REPORT_FIELDS,
    from_parts,
    from_rows,
    targets_batch,
)
from streams.stages.trader.execution.step import Executor, Out
from streams.stages.trader.portfolio import fastpath
from streams.stages.trader.portfolio import minutes as mins
from streams.stages.trader.portfolio.accounting import conversion_plan, gross_usd
from streams.stages.trader.portfolio.book import Book, TraderState, initial_state
from streams.stages.trader.portfolio.config import PortfolioConfig
from streams.stages.trader.risk.config import RiskConfig
from streams.stages.trader.risk.decide import candidates, entries, exits

REQUIRED = (
    "pair",
    "ts",
    "high",
    "low",
    "close",
    "spread",
    "regime",
    "tradeable",
    "expected_return",
    "side",
    "passed",
    "half_life_min",
    "alloc_scale",
    "gov_state",
)
OPTIONAL = {"mid": np.nan, "cost": 0.0, "horizon_min": 30, "ou_valid": True, "displacement": np.nan}
KEEP = (*REQUIRED, *OPTIONAL)
SPARSE = ("displacement",)
"""Optional columns kept only when the input carries them, so a checkpoint written before they existed
(its pending minute lacks them) continues, and inputs without them keep the state they had."""


class TraderConfig(StageConfig):
    """``[trader]``: nested ``[trader.risk]``, ``[trader.execution]``, ``[trader.portfolio]``."""

    risk: RiskConfig = RiskConfig()
    execution: ExecutionConfig = ExecutionConfig()
    portfolio: PortfolioConfig = PortfolioConfig()


IN_BAND_ISSUERS = frozenset({"governance", "execution"})
"""Issuers whose commands the trader already applies from its primary input or its own state."""


class TraderStage:
    """The trader stage; see the module docstring."""

    def __init__(
        self,
        config: TraderConfig | None = None,
        expected_pairs: tuple[str, ...] = (),
        control_key: bytes | None = None,
        compiled: bool = True,
    ) -> None:
        """``expected_pairs``: the pairs whose bars make a minute complete (the market stage's pairs;
        empty: every traded pair). ``control_key``: the operator HMAC key (None: no RESUME verifies).
        ``compiled``: the fast path's compiled kernels (False: the numpy path, same bits; for tests)."""
        from streams.fx.pairs import KNOWN_PAIRS, pip_size

        self.config = cfg = config or TraderConfig()
        self._control_key = control_key
        live = cfg.execution.fill_source == "broker"  # fills come from broker.fills, none simulated
        self.spec = StageSpec(
            "trader",
            ("signals.governed", "control", *(("broker.fills",) if live else ())),
            ("risk.targets", "orders", "fills", "portfolio", "control"),
        )
        self.pairs: tuple[str, ...] = tuple(cfg.portfolio.pairs or KNOWN_PAIRS)
        self._index = {p: i for i, p in enumerate(self.pairs)}
        expected = [self._index[p] for p in expected_pairs if p in self._index] or list(
            range(len(self.pairs))
        )
        self._expected = np.unique(np.asarray(expected, dtype=np.int64))
        self._expected_set = frozenset(self._expected.tolist())
        self._conv = conversion_plan(self.pairs)
        pips = np.array([pip_size(p) for p in self.pairs])
        broker = NoFills() if live else PaperBroker(cfg.execution, cfg.risk.lot_units)
        self.exec = Executor(cfg.execution, cfg.risk, self.pairs, pips, broker)
        self.fast = fastpath.FastPath(
            self.pairs,
            broker,
            cfg.risk.lot_units,
            cfg.execution.replace_after_min,
            cfg.portfolio.initial_equity_usd,
            cfg.risk.throttle_levels,
            cfg.execution,
            cfg.risk.exit_on_reversion,
            compiled,
        )

    def initial_state(self) -> TraderState:
        return initial_state(len(self.pairs), self.config.portfolio.initial_equity_usd)

    def process(self, state: TraderState, topic: str, batch: Batch) -> tuple[TraderState, Outputs]:
        if topic == "control":
            return self._control(state, batch), {}
        if topic == "broker.fills":
            if topic not in self.spec.inputs:
                raise ValueError('broker reports need [trader.execution] fill_source = "broker"')
            reports = report_queue.parse(batch, self._index)
            return replace(state, broker=report_queue.enqueue(state.broker, reports)), {}
        cols = self._merge(state, batch)
        if not len(cols["ts"]):
            return replace(state, pending=cols), self._outputs(Out(), [], cols)
        last = cols["ts"] == cols["ts"][-1]
        complete = self._expected_set.issubset(cols["pidx"][last].tolist())
        return self._decide_through(state, cols, int(cols["ts"][-1]) if complete else int(cols["ts"][-1]) - 1)

    def on_watermark(self, state: TraderState, ts: int) -> tuple[TraderState, Outputs]:
        """No record at or before ``ts`` will follow: decide the pending minute if it is that old (a
        pair's bar missing from it held it back). The same decisions as on the next minute's first
        record, one bar of wall time earlier."""
        pending = state.pending
        if not pending or not len(pending["ts"]) or int(pending["ts"][-1]) > ts:
            return state, {}
        return self._decide_through(state, dict(pending), ts)

    def _decide_through(
        self, state: TraderState, cols: dict[str, Any], upto: int
    ) -> tuple[TraderState, Outputs]:
        """Decide the minutes of ``cols`` at or before ``upto``; keep the rest pending."""
        cut = int(np.searchsorted(cols["ts"], upto, side="right"))  # ts ascending: the later ones are a tail
        pending = {k: v[cut:].copy() for k, v in cols.items()}
        done = {k: v[:cut] for k, v in cols.items()}
        if not len(done["ts"]):
            return replace(state, pending=pending), self._outputs(Out(), [], done)
        book, out, parts, window = self._run(state, done)
        return book.freeze(window, pending), self._outputs(out, parts, done)

    # -- input shaping -------------------------------------------------------------------------
    def _control(self, state: TraderState, batch: Batch) -> TraderState:
        # Governance decisions arrive in-band (gov_state/alloc_scale on every signal) and the kill
        # switch's own KILLs are applied where they fire; their echoes on the control topic are
        # ignored, or a Kafka replay would apply them at a timing-dependent bar and diverge.
        cs, cmds = state.control, []
        for r in batch.to_records():
            if str(r["issuer"]) in IN_BAND_ISSUERS:
                continue
            cmds.append(command(r, self._control_key))
            if cmds[-1].authenticated:  # a signed command could be captured and written back later
                cs = accept_signed(cs, r, state.last_ts)
        return replace(state, control=enqueue(cs, cmds))

    def _merge(self, state: TraderState, batch: Batch) -> dict[str, Any]:
        n = batch.n
        pending = state.pending or {}
        keys = [k for k in KEEP if k not in SPARSE or k in batch or k in pending]
        new = {k: np.asarray(batch[k]) if k in batch else np.full(n, OPTIONAL[k]) for k in keys}
        new["pair"] = new["pair"].astype(str)
        if n <= len(self._index):  # a live minute: a lookup per record
            new["pidx"] = np.array([self._index.get(p, -1) for p in new["pair"].tolist()], dtype=np.int64)
        else:
            new["pidx"] = np.full(n, -1, dtype=np.int64)
            for p, j in self._index.items():  # a comparison per pair of the universe: no sort of the names
                new["pidx"][new["pair"] == p] = j
        cols = dict(new)
        for k in new if pending else ():  # after the pending rows (an empty pending still sets dtypes)
            old = np.asarray(pending[k]) if k in pending else np.full(len(pending["ts"]), OPTIONAL[k])
            if len(old) or old.dtype != new[k].dtype:
                cols[k] = np.concatenate([old, new[k]])
        ts, pj = np.asarray(cols["ts"]), cols["pidx"]
        keep = np.flatnonzero((pj >= 0) & (ts > state.last_ts))
        order = keep[np.lexsort((pj[keep], ts[keep]))]  # stable: earlier arrivals win ties
        ts, pj = ts[order], pj[order]
        first = np.ones(len(ts), dtype=bool)
        first[1:] = (ts[1:] != ts[:-1]) | (pj[1:] != pj[:-1])
        order = order[first]
        cols = {k: v[order] for k, v in cols.items()}
        mid = cols["mid"].astype(np.float64)
        cols["mid"] = np.where(np.isfinite(mid), mid, cols["close"] + cols["spread"] / 2.0)
        hl = cols["half_life_min"].astype(np.float64)
        cols["half_life_min"] = np.where(cols["ou_valid"].astype(bool), hl, np.nan)
        return cols

    # -- the minute loop -----------------------------------------------------------------------
    def _run(self, state: TraderState, cols: dict[str, Any]) -> tuple[Book, Out, list[dict[str, Any]], Any]:
        minute_ts, ki = np.unique(cols["ts"], return_inverse=True)
        mn = mins.build(
            cols,
            minute_ts.astype(np.int64),
            ki.reshape(-1),
            cols["pidx"],
            len(self.pairs),
            state.mids,
            self._conv,
        )
        book = Book.from_state(state)
        returns = np.vstack([state.ret_window, mn.returns])
        stale = killswitch.stale_minutes(state.last_ts, mn.ts, self.config.execution.stale_after_min)
        st = fastpath.static(mn, stale, self.config.risk.max_order_usd, self.config.risk.lot_units)
        out: Out = Out()
        parts: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        k, m = 0, len(mn.ts)
        while k < m:
            j = self.fast.next_event(book, mn, st, k)
            if j > k:
                k, part = self.fast.forward(book, mn, k, j)
                if part is not None:
                    parts.extend([self._rows(rows), part] if rows else [part])
                    rows = []
                if k >= m:
                    break
            self._minute(book, mn, k, returns[: len(state.ret_window) + k + 1], bool(st.stale[k]), out, rows)
            k += 1
        if rows:
            parts.append(self._rows(rows))
        book.mids = mn.mid_ff[-1].copy()
        book.last_ts = int(mn.ts[-1])
        return book, out, parts, returns[-self.config.risk.cov_window_min :]

    def _minute(
        self,
        book: Book,
        mn: mins.Minutes,
        k: int,
        window: np.ndarray,
        stale: bool,
        out: Out,
        rows: list[dict[str, Any]],
    ) -> None:
        ts = int(mn.ts[k])
        d = ts + MINUTE_MS
        book.control = apply_due(book.control, d)
        moved = broker_reports.apply_due(self.exec, book, mn, k, out) if book.broker.queue else []
        ex = self.config.execution
        if stale:
            until = d + ex.stale_pause_min * MINUTE_MS
            reason = (
                f"stale input: no bar for more than {ex.stale_after_min} open-market minutes; "
                f"working orders cancelled, new entries paused for {ex.stale_pause_min} minutes"
            )
            self.exec.pause(book, d, until, reason, out)
        elif 0 <= book.control.paused_until <= d:
            book.control = replace(book.control, paused_until=-1)
        self.exec.sweep(book, d, out)
        filled = moved + (self.exec.fills(book, mn, k, out) if book.orders else [])
        book.equity, book.hwm, dd, book.throttle = self.fast.mark(book, mn, k)
        if book.markouts:
            self.exec.markouts(book, mn, k, out)
        if not book.control.blocks_all(""):
            self._decide(book, mn, k, window, out)
        if filled or (book.pos != 0.0).any():
            rows.append(self._account_row(book, mn, k, dd))
        rows.extend(self._pair_row(book, mn, k, j, rows[-1]) for j in filled)

    def _decide(self, book: Book, mn: mins.Minutes, k: int, window: np.ndarray, out: Out) -> None:
        risk = self.config.risk
        trows = exits(book, mn, k, self.pairs, risk)
        exited = {r["_row"] for r in trows}
        skip = {j for j, r in enumerate(mn.row[k].tolist()) if r in exited} if exited else set()
        cand = candidates(book, mn, k, self.pairs, skip)
        if cand:
            trows += entries(book, mn, k, cand, window[-risk.cov_window_min :], self.pairs, risk)
        out.targets.extend(trows)
        act = mn.present[k] & (np.abs(book.target - book.pos) >= risk.lot_units / 2.0)
        act[[j for j in book.orders if mn.present[k, j]]] = True
        for j in np.flatnonzero(act):
            self.exec.route(book, mn, k, int(j), out)

    def _account_row(self, book: Book, mn: mins.Minutes, k: int, dd: float) -> dict[str, Any]:
        return {
            "pair": "",
            "ts": int(mn.ts[k]),
            "position_units": 0.0,
            "avg_price": 0.0,
            "mid": float("nan"),
            "unrealized_pnl_usd": book.equity - self.fast.base(book),
            "realized_pnl_usd": book.realized_usd,
            "equity_usd": book.equity,
            "hwm_usd": book.hwm,
            "drawdown": dd,
            "throttle": book.throttle,
            "gross_usd": gross_usd(book.pos, mn.mid_ff[k], mn.rate[k]),
            "n_positions": int(np.count_nonzero(book.pos)),
            "kill_active": book.control.killed,
            "toxicity_bps": self.fast.toxicity(book.windows),
        }

    def _pair_row(self, book: Book, mn: mins.Minutes, k: int, j: int, acct: dict[str, Any]) -> dict[str, Any]:
        mid, rate = float(mn.mid_ff[k, j]), float(mn.rate[k, j])
        pos, avg = float(book.pos[j]), float(book.avg[j])
        return {
            **acct,
            "pair": self.pairs[j],
            "position_units": pos,
            "avg_price": avg,
            "mid": mid,
            "unrealized_pnl_usd": pos * (mid - avg) * rate if pos else 0.0,
        }

    @staticmethod
    def _rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {f: [r[f] for r in rows] for f in PORTFOLIO_FIELDS}

    def _outputs(self, out: Out, parts: list[dict[str, Any]], cols: dict[str, Any]) -> dict[str, Batch]:
        return {
            "risk.targets": targets_batch(out.targets, cols),
            "orders": from_rows(out.orders, ORDER_FIELDS),
            "fills": from_rows(out.reports, REPORT_FIELDS),
            "portfolio": from_parts(parts, PORTFOLIO_FIELDS),
            "control": from_rows(out.control, CONTROL_FIELDS),
        }
