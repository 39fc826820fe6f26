"""NautilusTrader's ``BacktestEngine`` running the z-score strategy of ``zscore.py``: one strategy per
pair on its 1-minute BID bars, limit entries cancelled after ORDER_BARS bars, market exits. Nautilus fills
FX limit orders only with both sides, so each pair also gets ASK bars (bid + the bar's modelled spread);
volume is the constant ``zscore.VOLUME`` (synthetic bars carry 0). A simulated venue (netting, margin
account, USD). The timed part is ``engine.run()``; building instruments, bars and strategies is
``setup_s``. Usage: engine_nautilus.py BARS.npz"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
from common import load_bars, report  # noqa: E402
from nautilus_trader.backtest.engine import BacktestEngine  # noqa: E402
from nautilus_trader.config import BacktestEngineConfig, LoggingConfig, StrategyConfig  # noqa: E402
from nautilus_trader.model.currencies import USD  # noqa: E402
from nautilus_trader.model.data import Bar, BarType  # noqa: E402
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide  # noqa: E402
from nautilus_trader.model.identifiers import Venue  # noqa: E402
from nautilus_trader.model.objects import Money, Quantity  # noqa: E402
from nautilus_trader.persistence.wranglers import BarDataWrangler  # noqa: E402
from nautilus_trader.test_kit.providers import TestInstrumentProvider  # noqa: E402
from nautilus_trader.trading.strategy import Strategy  # noqa: E402
from zscore import ENTRY_Z, EXIT_Z, ORDER_BARS, QTY, VOLUME, PairState  # noqa: E402

VENUE = Venue("SIM")
COUNTS = {"orders": 0, "fills": 0}


class ZConfig(StrategyConfig, frozen=True):
    bar_type: str
    instrument_id: str


class ZScore(Strategy):  # type: ignore[misc]
    def __init__(self, config: ZConfig) -> None:
        super().__init__(config)
        self.bar_type = BarType.from_str(config.bar_type)
        self.zs = PairState()
        self.working: Any = None

    def on_start(self) -> None:
        self.instrument = self.cache.instrument(self.bar_type.instrument_id)
        self.subscribe_bars(self.bar_type)

    def on_order_filled(self, event: Any) -> None:
        if self.working is not None and event.client_order_id == self.working.client_order_id:
            COUNTS["fills"] += 1

    def on_bar(self, bar: Bar) -> None:
        st, iid = self.zs, self.bar_type.instrument_id
        close = float(bar.close)
        z = st.zscore(close)
        if self.working is not None and self.working.is_open:
            st.order_age += 1
            if st.order_age >= ORDER_BARS:
                self.cancel_order(self.working)
            return
        if z is None:
            return
        if self.portfolio.is_flat(iid) and abs(z) > ENTRY_Z:
            spread = float(self.spreads.get(bar.ts_event, 0.0))
            side, price = (OrderSide.BUY, close) if z < 0 else (OrderSide.SELL, close + spread)
            self.working = self.order_factory.limit(
                iid, side, Quantity.from_int(QTY), self.instrument.make_price(price)
            )
            self.submit_order(self.working)
            st.order_age = 0
            COUNTS["orders"] += 1
        elif not self.portfolio.is_flat(iid) and abs(z) < EXIT_Z:
            self.close_all_positions(iid)


def _frame(bars: dict[str, Any], m: Any, shift: Any = 0.0) -> pd.DataFrame:
    df = pd.DataFrame(
        {k: bars[k][m] + shift for k in ("open", "high", "low", "close")},
        index=pd.to_datetime(bars["ts"][m], unit="ms", utc=True),
    )
    df["volume"] = VOLUME
    return df


def main() -> None:
    t0 = time.perf_counter()
    bars = load_bars(sys.argv[1])
    engine = BacktestEngine(
        BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True))
    )
    engine.add_venue(
        venue=VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(1_000_000_000, USD)],
    )
    for pair in sorted(set(bars["pair"].tolist())):
        inst = TestInstrumentProvider.default_fx_ccy(f"{pair[:3]}/{pair[3:]}", VENUE)
        engine.add_instrument(inst)
        m = bars["pair"] == pair
        for side, shift in (("BID", 0.0), ("ASK", bars["spread"][m])):
            bt = BarType.from_str(f"{inst.id}-1-MINUTE-{side}-EXTERNAL")
            engine.add_data(BarDataWrangler(bt, inst).process(_frame(bars, m, shift)))
        strat = ZScore(
            ZConfig(
                bar_type=f"{inst.id}-1-MINUTE-BID-EXTERNAL", instrument_id=str(inst.id), order_id_tag=pair
            )
        )
        ts_ns = (bars["ts"][m].astype("int64") * 1_000_000).tolist()
        strat.spreads = dict(zip(ts_ns, bars["spread"][m].tolist(), strict=True))
        engine.add_strategy(strat)
    setup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    engine.run()
    report(
        "nautilus", len(bars["close"]), time.perf_counter() - t0, time.process_time() - c0, setup, **COUNTS
    )


if __name__ == "__main__":
    main()
