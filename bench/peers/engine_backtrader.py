"""backtrader (``Cerebro``, one ``PandasData`` feed per pair: bid OHLC, constant volume) running the
z-score strategy of ``zscore.py``: limit entries, cancelled after ORDER_BARS bars, market exits.
backtrader fills a buy limit when the bar's (bid) low reaches it: its own matching, not the loop's.
The timed part is ``cerebro.run()``; building the feeds is ``setup_s``. Usage: engine_backtrader.py BARS.npz"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backtrader as bt  # noqa: E402
import pandas as pd  # noqa: E402
from common import load_bars, report  # noqa: E402
from zscore import ENTRY_Z, EXIT_Z, ORDER_BARS, QTY, VOLUME, PairState  # noqa: E402


class ZScore(bt.Strategy):  # type: ignore[misc]
    def __init__(self) -> None:
        self.state = {d._name: PairState() for d in self.datas}
        self.working: dict[str, Any] = {}
        self.spread: dict[str, Any] = {}
        self.orders = self.fills = 0

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed and order.exectype == bt.Order.Limit:
            self.fills += 1

    def next(self) -> None:
        for d in self.datas:
            name = d._name
            st = self.state[name]
            close = float(d.close[0])
            z = st.zscore(close)
            working = self.working.get(name)
            if working is not None and working.alive():
                st.order_age += 1
                if st.order_age >= ORDER_BARS:
                    self.cancel(working)
                continue
            if z is None:
                continue
            pos = self.getposition(d).size
            if pos == 0 and abs(z) > ENTRY_Z:
                spread = float(d.spread[0])
                if z < 0:
                    self.working[name] = self.buy(data=d, size=QTY, price=close, exectype=bt.Order.Limit)
                else:
                    self.working[name] = self.sell(
                        data=d, size=QTY, price=close + spread, exectype=bt.Order.Limit
                    )
                st.order_age = 0
                self.orders += 1
            elif pos != 0 and abs(z) < EXIT_Z:
                self.close(data=d)


class Feed(bt.feeds.PandasData):  # type: ignore[misc]
    lines = ("spread",)
    params = (("spread", "spread"),)


def main() -> None:
    t0 = time.perf_counter()
    bars = load_bars(sys.argv[1])
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(1e12)
    for pair in sorted(set(bars["pair"].tolist())):
        m = bars["pair"] == pair
        df = pd.DataFrame(
            {k: bars[k][m] for k in ("open", "high", "low", "close", "spread")},
            index=pd.to_datetime(bars["ts"][m], unit="ms"),
        )
        df["volume"] = VOLUME
        df["openinterest"] = 0.0
        cerebro.adddata(Feed(dataname=df), name=pair)
    cerebro.addstrategy(ZScore)
    setup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    [strat] = cerebro.run()
    report(
        "backtrader",
        len(bars["close"]),
        time.perf_counter() - t0,
        time.process_time() - c0,
        setup,
        orders=strat.orders,
        fills=strat.fills,
    )


if __name__ == "__main__":
    main()
