"""A real fill flows back end to end (issue 12): ``hslr live --broker oanda`` against the local v20
server; the trader sends a LIMIT order, the server fills it, the fill comes back through the v20
transaction stream to ``broker.fills``, and the trader (run by the command with ``fill_source =
broker``) books it: the ``fills`` report carries the broker's price and time, the position is the
order's size. Second method: the in-process replay of the same bars with the recorded ``broker.fills``
gives the same orders, fills and portfolio (replay == live, for a fill that reached the worker before
its minute was decided)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from streams.binding.book_check import trader_reader
from streams.binding.kafka_io import (
    Out,
    collect,
    ensure_topics,
    publish,
    publish_marker,
    read_to_end,
)
from streams.binding.workers import child_env, fresh_namespace, python_command
from streams.config import HSLRConfig, dump_config, with_fill_source
from streams.core.batch import Batch, concat
from streams.dag import STAGE_FACTORIES, build_stages
from streams.infra import bootstrap_servers
from streams.runner.inprocess import run_inprocess
from tests.kit.v20_server import V20Server

pytestmark = pytest.mark.integration
MINUTE = 60_000


def _wait(what: str, ok, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90.0) -> None:  # noqa: ANN001
    t0 = time.monotonic()
    while not ok():
        assert proc.poll() is None, f"hslr live exited while waiting for {what}; log {log}"
        assert time.monotonic() - t0 < timeout, f"{what} did not happen within {timeout:.0f} s; log {log}"
        time.sleep(0.2)


def test_a_broker_fill_reaches_the_trader_and_the_replay_agrees(
    services: dict[str, str], tmp_path: Path, trained: tuple[Batch, HSLRConfig, dict[str, Batch]]
) -> None:
    test_bars, paper_config, paper = trained
    config = with_fill_source(paper_config, "broker")
    new = paper["orders"].take((paper["orders"]["action"] == "NEW") & (paper["orders"]["reason"] == ""))
    d0 = int(new["ts"].min())  # the first order's decision time (its minute's close)
    before, after = test_bars.take(test_bars["ts"] < d0), test_bars.take(test_bars["ts"] >= d0)
    after = after.take(after["ts"] < d0 + 5 * MINUTE)
    boot, ns = bootstrap_servers(), fresh_namespace("fills")
    sid = "_".join(STAGE_FACTORIES)
    ensure_topics(boot, ns, [sid])
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(dump_config(paper_config)))  # paper: the command must switch it itself
    log = tmp_path / "live.log"
    out = Out(boot)
    trader = trader_reader(boot, ns, config)
    with V20Server() as server:
        cmd = python_command("-m", "streams.cli", "live", "--broker", "oanda", "--env", "practice",
                             "--feed-url", server.url, "--config", str(cfg), "--namespace", ns,
                             "--stall-s", "900", "--silent-s", "30", "--reconcile-s", "0",
                             "--worker-log", str(tmp_path / "worker.log"))  # fmt: skip
        env = child_env({"KAFKA_BOOTSTRAP_SERVERS": boot, "HSLR_BATCH_WITHIN_S": "0.001"})
        with open(log, "ab") as fh:
            proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            _wait("reconciliation and the order gateway", lambda: "live: " in log.read_text(), proc, log)
            assert "fill_source" in log.read_text()  # it says it runs the worker on the broker's fills
            publish(out, "bars", before, ns, max_records=500)
            out.flush()
            _wait("the first LIMIT order at the server", lambda: bool(server.orders), proc, log, 120)
            cid = next(iter(server.orders))
            sent = server.orders[cid]
            fill_ts = d0 + 30_000  # half a minute after the decision: inside the next minute
            server.clock = lambda: fill_ts * 1_000_000
            server.fill(cid)
            # later transactions (the echo of the trader's own cancels) happen after this test's minutes
            server.clock = lambda: (int(after["ts"].max()) + 2 * MINUTE) * 1_000_000
            _wait("the fill on broker.fills", lambda: read_to_end(boot, "broker.fills", ns).n >= 1, proc, log)
            _wait("the report queued in the trader", lambda: bool(getattr(trader(), "broker", None)
                                                                   and trader().broker.queue), proc, log)  # fmt: skip
            publish(out, "bars", after, ns, max_records=500)
            publish_marker(out, "bars", "live", ns)
            out.flush()
            got = collect(boot, ["orders", "fills", "portfolio"], "live", ns, timeout=120,
                          alive=lambda: proc.poll() is None)  # fmt: skip
            reports = read_to_end(boot, "broker.fills", ns)
        finally:
            proc.terminate()
            proc.wait(60)

    # the broker's report as the transaction stream mapped it (then only cancels of other orders)
    assert reports["client_order_id"][0] == cid
    assert reports["status"][0] == "FILLED"
    assert int(reports["ts"][0]) == fill_ts
    assert float(reports["last_qty"][0]) == abs(float(sent["units"]))
    assert float(reports["last_price"][0]) == float(sent["price"])
    assert set(reports["status"][1:].tolist()) <= {"CANCELLED"}
    # the trader booked it: the fills report carries the broker's price and time ...
    fills = got["fills"].take(got["fills"]["client_order_id"] == cid)
    filled = fills.take(np.isin(fills["status"], ["FILLED", "PARTIALLY_FILLED"]))
    assert filled.n == 1
    assert float(filled["last_price"][0]) == float(sent["price"])
    assert int(filled["ts"][0]) == fill_ts
    # ... and the position is the order's size from the next decided minute on
    pair = str(filled["pair"][0])
    port = got["portfolio"].take(got["portfolio"]["pair"] == pair)
    assert port.n > 0
    assert float(port["position_units"][0]) == float(sent["units"])
    assert int(port["ts"][0]) == d0  # the minute after the order's (ts d0 - 1 min), closing at d0 + 1 min
    # second method: the replay of the same bars with the recorded broker report
    replay = run_inprocess(build_stages(config), {"bars": concat([before, after]), "broker.fills": reports})
    for key in ("orders", "fills", "portfolio"):
        assert got[key].equals(replay[key]), key
