"""The backbone against the real broker and database: schemas, dead letters, ingest, parity, restarts."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from confluent_kafka import Consumer, Producer

from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker
from streams.binding.workers import fresh_namespace, worker
from streams.core.batch import Batch
from streams.core.topics import TOPICS
from streams.dag import build_stages
from streams.data.histdata import read_histdata
from streams.data.synth import generate_market
from streams.infra import bootstrap_servers
from streams.runner.inprocess import run_inprocess
from streams.serde.avro import AvroCodec

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histdata"


def _sample(avro_type: Any, rng: np.random.Generator) -> Any:
    if isinstance(avro_type, list):  # union: use the non-null branch
        return _sample(next(t for t in avro_type if t != "null"), rng)
    if isinstance(avro_type, dict):
        kind = avro_type["type"]
        if kind == "enum":
            return avro_type["symbols"][-1]
        if kind == "array":
            return [_sample(avro_type["items"], rng)]
        if kind == "map":
            return {"k": _sample(avro_type["values"], rng)}
        if kind == "record":
            return {f["name"]: _sample(f["type"], rng) for f in avro_type["fields"]}
        return _sample(kind, rng)
    return {
        "string": lambda: f"s{rng.integers(1000)}",
        "long": lambda: int(rng.integers(1, 2**40)),
        "int": lambda: int(rng.integers(1, 2**20)),
        "double": lambda: float(rng.normal()),
        "float": lambda: float(np.float32(rng.normal())),
        "boolean": lambda: bool(rng.integers(2)),
        "bytes": lambda: rng.bytes(5),
    }[avro_type]()


def test_every_schema_round_trips_through_kafka(services: dict[str, str]) -> None:
    rng = np.random.default_rng(1)
    topic = f"it.schemas.{uuid.uuid4().hex[:8]}"
    stems = sorted(p.stem for p in Path("schemas").glob("*.avsc"))
    sent = {}
    p = Producer({"bootstrap.servers": bootstrap_servers()})
    for stem in stems:
        codec = AvroCodec(stem)
        rec = _sample(codec.info.raw, rng)
        sent[stem] = rec
        p.produce(topic, codec.encode(rec), stem.encode())
    assert p.flush(30) == 0
    c = Consumer(
        {"bootstrap.servers": bootstrap_servers(), "group.id": topic, "auto.offset.reset": "earliest"}
    )
    c.subscribe([topic])
    got: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while len(got) < len(stems) and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and not msg.error():
            stem = msg.key().decode()
            got[stem] = AvroCodec(stem).decode(msg.value())
    c.close()
    assert got == sent


def _market_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "hslr.toml"
    cfg.write_text('[market]\npairs = ["EURUSD", "GBPUSD", "USDJPY"]\n')
    return cfg


def test_garbage_is_dead_lettered_and_the_agent_keeps_consuming(
    services: dict[str, str], tmp_path: Path
) -> None:
    ns = fresh_namespace()
    ensure_topics(bootstrap_servers(), ns, ["market"])
    market = generate_market(["EURUSD"], "2019-01-07", "2019-01-08", seed=1)
    bars = Batch(market.bars)
    half = bars.n // 2
    out = Out(bootstrap_servers())
    with worker(["market"], ns, _market_config(tmp_path), tmp_path / "worker.log") as w:
        publish(out, "bars", bars.take(slice(0, half)), ns)
        p = Producer({"bootstrap.servers": bootstrap_servers()})
        p.produce(TOPICS["bars"].name(ns), b"\xc3\x01 definitely not avro", b"EURUSD")
        p.flush(10)
        publish(out, "bars", bars.take(slice(half, bars.n)), ns)
        publish_marker(out, "bars", "run", ns)
        out.flush()
        got = collect(
            bootstrap_servers(), ["bars.clean"], "run", ns, timeout=180, alive=lambda: w.poll() is None
        )
    assert got["bars.clean"].equals(bars)  # every good bar, before and after the garbage
    dead = _read_all(TOPICS["deadletter"].name(ns), "dead_letter", 1)
    assert dead["error_kind"].tolist() == ["DECODE"]
    assert dead["value"][0] == b"\xc3\x01 definitely not avro"
    assert "unknown writer schema fingerprint" in dead["reason"][0]


def _read_all(topic: str, schema: str, n: int, timeout: float = 60) -> Batch:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap_servers(),
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    c.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(values) < n and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and not msg.error() and msg.value():
            values.append(msg.value())
    c.close()
    batch, errors = AvroCodec(schema).decode_batch(values)
    assert not errors
    return batch


_XMIN = "SELECT count(*), max(xmin::text::bigint) FROM price_data WHERE pair = 'EURUSD' AND ts = ANY(%s)"


def _times(ts: np.ndarray) -> list[datetime]:
    return [datetime.fromtimestamp(t / 1000, UTC) for t in ts.tolist()]


def test_ingest_histdata_publishes_stores_quarantines_and_is_idempotent(services: dict[str, str]) -> None:
    from streams.cli.main import main
    from streams.storage.db import connect

    ns = fresh_namespace()
    path = FIXTURES / "EURUSD_M1_dirty.csv"
    lines = len(path.read_text().splitlines())
    with connect() as conn:
        conn.execute(
            "DELETE FROM price_data WHERE pair = 'EURUSD' AND source LIKE 'histdata%'"
            " AND ts < '2019-01-10' AND ts > '2018-12-30'"
        )
        conn.execute("DELETE FROM quarantine WHERE source = %s", (f"ingest:histdata:EURUSD:{path.name}",))
        conn.commit()
    assert main(["ingest", "histdata", str(path), "--pair", "EURUSD", "--namespace", ns]) == 0
    with connect() as conn:
        q = conn.execute(
            "SELECT line_no, reason FROM quarantine WHERE source = %s ORDER BY line_no",
            (f"ingest:histdata:EURUSD:{path.name}",),
        ).fetchall()
        namespaces = conn.execute(
            "SELECT DISTINCT namespace FROM quarantine WHERE source = %s",
            (f"ingest:histdata:EURUSD:{path.name}",),
        ).fetchall()
        res = read_histdata(path, "EURUSD")
        ts = res.bars["ts"]
        stored = conn.execute(_XMIN, (_times(ts),)).fetchone()
    assert len(q) == len(res.rejects)
    assert all(reason for _, reason in q)
    assert namespaces == [(ns,)]  # regression: rows said 'hslr' whatever --namespace said
    assert stored[0] == lines - len(q) == len(ts)
    topic = _read_all(TOPICS["bars"].name(ns), "bar", len(ts))
    assert topic.n == lines - len(q)
    # second ingest: nothing new is published, stored or quarantined
    assert main(["ingest", "histdata", str(path), "--pair", "EURUSD", "--namespace", ns]) == 0
    with connect() as conn:
        again = conn.execute(
            "SELECT count(*) FROM quarantine WHERE source = %s", (f"ingest:histdata:EURUSD:{path.name}",)
        ).fetchone()
        xmin = conn.execute(_XMIN, (_times(ts),)).fetchone()
    assert again[0] == len(q)
    assert xmin == stored  # same rows, none rewritten (xmin changes on every update)
    assert _read_all(TOPICS["bars"].name(ns), "bar", len(ts) + 1, timeout=5).n == len(ts)


# Hand-made GBPUSD bid and ask minutes (2012-02-06 09:00-09:02 UTC); 09:01 has a crossed close.
_BID = (
    "timestamp,open,high,low,close\n"
    "2012-02-06 09:00:00+00:00,1.57600,1.57610,1.57590,1.57600\n"
    "2012-02-06 09:01:00+00:00,1.57600,1.57620,1.57600,1.57610\n"
    "2012-02-06 09:02:00+00:00,1.57610,1.57630,1.57600,1.57620\n"
)
_ASK = (
    "timestamp,open,high,low,close\n"
    "2012-02-06 09:00:00+00:00,1.57607,1.57617,1.57597,1.57607\n"
    "2012-02-06 09:01:00+00:00,1.57607,1.57626,1.57606,1.57608\n"
)


def test_ingest_bid_and_ask_files_stores_real_spreads(
    services: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.cli.main import main
    from streams.storage.db import connect

    bid, ask = tmp_path / "gbpusd-bid.csv", tmp_path / "gbpusd-ask.csv"
    bid.write_text(_BID)
    ask.write_text(_ASK)
    window = ("2012-02-06 08:59+00", "2012-02-06 09:03+00")
    with connect() as conn:
        for table in ("price_data", "spread_data"):
            conn.execute(f"DELETE FROM {table} WHERE pair = 'GBPUSD' AND ts > %s AND ts < %s", window)  # noqa: S608
        conn.commit()
    ns = fresh_namespace()
    assert (
        main(["ingest", "histdata", str(bid), "--ask", str(ask), "--pair", "GBPUSD", "--namespace", ns]) == 0
    )
    printed = capsys.readouterr().out
    assert "spreads: 2 real" in printed
    assert "1 crossed" in printed
    assert "spreads: 1 modelled by hslr-spread-v2:" in printed
    assert '"regime_threshold": 1.5' in printed
    with connect() as conn:
        rows = conn.execute(
            "SELECT s.spread, s.modeled, p.source FROM spread_data s JOIN price_data p USING (pair, ts)"
            " WHERE s.pair = 'GBPUSD' AND s.ts > %s AND s.ts < %s ORDER BY s.ts",
            window,
        ).fetchall()
    # pips: 0.7 real; 0.6 = median of the crossed minute's four ask - bid differences; then modelled.
    assert [round(r[0], 6) for r in rows[:2]] == [0.7, 0.6]
    assert [r[1] for r in rows] == [False, False, True]
    assert rows[0][2] == "histdata;spread=ask"
    assert rows[2][2].startswith("histdata;spread=hslr-spread-v2:")


PARITY_STAGES = ["market", "features"]


def test_faust_and_inprocess_give_identical_outputs(services: dict[str, str], tmp_path: Path) -> None:
    ns = fresh_namespace()
    cfg = _market_config(tmp_path)
    from streams.config import load_config

    stages = build_stages(load_config(cfg), PARITY_STAGES)
    ensure_topics(bootstrap_servers(), ns, PARITY_STAGES)
    market = generate_market(["EURUSD", "GBPUSD", "USDJPY"], "2019-02-04", "2019-02-25", seed=11)
    bars = Batch(market.bars)
    expected = run_inprocess(stages, {"bars": bars})
    out = Out(bootstrap_servers())
    last = stages[-1].spec.outputs
    with worker(PARITY_STAGES, ns, cfg, tmp_path / "worker.log") as w:
        publish(out, "bars", bars, ns, max_records=1)  # one bar per message, as a live feed sends them
        publish_marker(out, "bars", "parity", ns)
        out.flush()
        got = collect(
            bootstrap_servers(), list(last), "parity", ns, timeout=400, alive=lambda: w.poll() is None
        )
    for key in last:
        assert got[key].n == expected[key].n > 0 or key != "features"
        assert got[key].select(expected[key].keys()).equals(expected[key].select(got[key].keys()))


def test_worker_killed_mid_replay_resumes_from_its_checkpoint(
    services: dict[str, str], tmp_path: Path
) -> None:
    ns = fresh_namespace()
    cfg = _market_config(tmp_path)
    ensure_topics(bootstrap_servers(), ns, ["market"])
    bars = Batch(generate_market(["EURUSD", "GBPUSD"], "2019-03-04", "2019-03-09", seed=5).bars)
    out = Out(bootstrap_servers())
    publish(out, "bars", bars, ns)
    out.flush()
    with worker(["market"], ns, cfg, tmp_path / "w1.log") as w:
        # kill -9 once it has produced part of the output: no clean shutdown, no final commit
        deadline = time.monotonic() + 120
        while _count(TOPICS["bars.clean"].name(ns)) < bars.n // 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        w.kill()
    publish_marker(out, "bars", "resume", ns)
    out.flush()
    with worker(["market"], ns, cfg, tmp_path / "w2.log"):
        got = collect(bootstrap_servers(), ["bars.clean", "quarantine"], "resume", ns, timeout=180)
    clean = got["bars.clean"]
    keys = list(zip(clean["pair"].tolist(), clean["ts"].tolist(), strict=True))
    first = np.array(sorted({k: i for i, k in reversed(list(enumerate(keys)))}.values()))
    # at-least-once may repeat outputs written after the last checkpoint; never loses or reorders any
    assert clean.take(first).equals(bars)
    assert got["quarantine"].n == 0  # redelivered input was skipped by offset, not re-judged as duplicate


def _count(topic: str) -> int:
    from confluent_kafka import TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap_servers(), "group.id": uuid.uuid4().hex})
    try:
        low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return high - low
    except Exception:  # noqa: BLE001 - topic not created yet
        return 0
    finally:
        c.close()


def _m1(day: str, n: int, bad: dict[int, str] | None = None) -> str:
    t0 = np.datetime64(day)
    rows = []
    for i in range(n):
        t = str(t0 + np.timedelta64(i, "m"))
        rows.append(f"{t[:4]}{t[5:7]}{t[8:10]} {t[11:13]}{t[14:16]}00;1.5000;1.5003;1.4998;1.5001;0")
    for i, line in (bad or {}).items():
        rows[i] = line
    return "\n".join(rows) + "\n"


def test_ingest_hostile_files(services: dict[str, str], tmp_path: Path) -> None:
    # issue 11 #6: NUL byte -> traceback after a partial commit, and a re-ingest of the fixed file
    # published nothing; same file name for another pair lost its rejects; empty file / bad --pair.
    from streams.cli.main import main
    from streams.storage.db import connect

    ns = fresh_namespace()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    name = f"DAT_ASCII_M1_{uuid.uuid4().hex[:8]}.csv"
    good = _m1("2001-03-05T10:00", 6)
    nul = good.splitlines()
    nul[3] = nul[3][:20] + "\x00" + nul[3][20:]
    a, b = tmp_path / "a" / name, tmp_path / "b" / name
    a.write_text("\n".join(nul) + "\n")
    b.write_text(_m1("2001-03-05T10:00", 4, {1: "garbage", 2: "20010305 100200;x;1;1;1;0"}))
    with connect() as conn:
        conn.execute(
            "DELETE FROM price_data WHERE pair IN ('GBPUSD', 'USDCAD') AND ts >= '2001-03-05' AND ts < '2001-03-06'"
        )
        conn.commit()
    assert main(["ingest", "histdata", str(a), "--pair", "gbp/usd", "--namespace", ns]) == 0
    assert main(["ingest", "histdata", str(b), "--pair", "USDCAD", "--namespace", ns]) == 0
    with connect() as conn:
        rows = conn.execute(
            "SELECT source, line_no, reason, raw FROM quarantine WHERE source LIKE %s ORDER BY source, line_no",
            (f"%{name}",),
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        (f"ingest:histdata:GBPUSD:{name}", 4),
        (f"ingest:histdata:USDCAD:{name}", 2),
        (f"ingest:histdata:USDCAD:{name}", 3),
    ]
    assert rows[0][2].startswith("NUL byte")
    assert "\\x00" in rows[0][3]
    assert _read_all(TOPICS["bars"].name(ns), "bar", 8, timeout=10).n == 5 + 2
    a.write_text(good)  # the fixed file: only the formerly broken minute is new and is published
    assert main(["ingest", "histdata", str(a), "--pair", "GBPUSD", "--namespace", ns]) == 0
    assert _read_all(TOPICS["bars"].name(ns), "bar", 9, timeout=10).n == 8
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    for argv in (
        [str(empty), "--pair", "GBPUSD"],
        [str(a), "--pair", ""],
        [str(a), "--pair", "EURUSD,GBPUSD"],
        [str(a), "--pair", "XXXYYY"],
    ):
        assert main(["ingest", "histdata", *argv, "--namespace", ns]) == 2, argv


def test_operator_commands_are_signed_normalised_and_carry_their_event_time(
    services: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 11 #3/#4: `hslr halt --pair eurusd` matched nothing, a wall-clock HALT never became due in a
    # replay, and any producer could clear the kill switch
    from streams.cli.main import main
    from streams.core.control_auth import verify
    from streams.settings import settings
    from tests.kit.control import CONTROL_KEY

    ns = fresh_namespace()
    monkeypatch.setenv("HSLR_CONTROL_KEY", CONTROL_KEY.decode())
    settings.cache_clear()
    try:
        assert main(["halt", "--pair", "eur/usd", "--at", "next", "--namespace", ns]) == 0
        assert main(["resume", "--pair", "GBPUSD", "--at", "2020-03-02T14:30", "--namespace", ns]) == 0
        assert main(["halt", "--pair", "XXXYYY", "--namespace", ns]) == 2
    finally:
        settings.cache_clear()
    got = _read_all(TOPICS["control"].name(ns), "control", 2, timeout=20)
    rows = got.to_records()
    assert [(r["action"], r["pair"], r["ts"], r["issuer"]) for r in rows] == [
        ("HALT", "EURUSD", 0, "operator"),
        ("RESUME", "GBPUSD", 1_583_159_400_000, "operator"),
    ]
    assert all(verify(r, CONTROL_KEY) for r in rows)
    assert not verify({**rows[1], "pair": ""}, CONTROL_KEY)  # widening the scope breaks the signature
