"""``hslr walkforward``, ``hslr search`` and ``hslr shuffle``: the research loop's commands.

All three read the bars once (``--source db``: price_data; ``--source synth``: the seeded generator,
event shocks at the reference calendar's times when it is available), build the fold schedule
(:func:`backtest.folds.make_schedule`, purge ≥ the label horizon) and print one JSON document.
Progress goes to stderr, one line per step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _setup(args: argparse.Namespace) -> tuple[Any, Any, list[Any], dict[str, Any]]:
    from backtest.folds import label_horizon_min, make_schedule, uncovered_tail
    from streams.cli.options import parse_day, parse_pairs
    from streams.config import load_config
    from streams.core.batch import Batch
    from streams.services.calendar import backtest_calendar
    from streams.services.runs import with_models

    config = load_config(args.config or None)
    calendar, calendar_info = backtest_calendar(
        config.news.calendar_path or args.calendar, parse_day(args.start), parse_day(args.end)
    )
    if calendar and not config.news.calendar_path:
        config = with_models(config, config.regime.model_path, config.edge.model_path, calendar)
    pairs, start, end = parse_pairs(args.pairs), parse_day(args.start), parse_day(args.end)
    if args.source == "synth":
        from streams.data.synth import generate_market

        cal = None
        if calendar:
            from streams.data.calendar import read_calendar_file

            cal = dict(read_calendar_file(calendar))
        bars = Batch(generate_market(pairs, start, end, args.seed, calendar=cal).bars)
    else:
        from streams.services.bars import get_bars

        bars, _ = get_bars("db", pairs, start, end, args.seed)
    ms = (int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    horizon = label_horizon_min(config)
    folds = make_schedule(
        *ms,
        args.train,
        args.test,
        horizon_min=horizon,
        step=args.step,
        purge_min=args.purge,
        embargo_min=args.embargo,
        anchored=args.anchored,
    )
    spec = {
        "pairs": pairs,
        "from": args.start,
        "to": args.end,
        "train": args.train,
        "test": args.test,
        "step": args.step or args.test,
        "purge_min": args.purge if args.purge is not None else horizon,
        "label_horizon_min": horizon,
        "anchored": args.anchored,
        "source": args.source,
        "seed": args.seed if args.source == "synth" else None,
        "bars": int(bars.n),
        "uncovered_tail": uncovered_tail(folds, ms[1]),
        "calendar": calendar_info,
    }
    if spec["uncovered_tail"]:
        print(f"[walkforward] {spec['uncovered_tail']['note']}", file=sys.stderr, flush=True)
    return config, bars, folds, spec


def _walkforward(args: argparse.Namespace) -> int:
    from backtest.walkforward import WalkForward, postgres_sink

    config, bars, folds, spec = _setup(args)
    run_id = args.run_id or f"wf-{args.engine}-{config.digest()}-{uuid.uuid4().hex[:6]}"
    t0 = time.perf_counter()
    wf = WalkForward(
        run_id,
        bars,
        config,
        folds,
        Path(args.runs) / run_id,
        engine=args.engine,
        spec=spec,
        db=None if args.no_db else postgres_sink,
        workers=args.workers,
    )
    summary = wf.run(created_at=datetime.now(tz=UTC))
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["run_dir"] = str(Path(args.runs) / run_id)
    print(json.dumps(summary, indent=None if args.json else 1, default=str))
    return 0


def _grid(text: str) -> dict[str, list[Any]]:
    from backtest.search import DEFAULT_GRID

    if not text:
        return DEFAULT_GRID
    p = Path(text)
    data = json.loads(p.read_text() if p.exists() else text)
    if not isinstance(data, dict) or not all(isinstance(v, list) and v for v in data.values()):
        raise ValueError(
            "--grid must be a JSON object of non-empty lists, e.g. '{\"edge.safety_factor\": [1, 2]}'"
        )
    return data


def _search(args: argparse.Namespace) -> int:
    import sys

    from backtest.jsonsafe import clean
    from backtest.search import run_search
    from backtest.walkforward import _write_atomic

    config, bars, folds, spec = _setup(args)
    run_id = args.run_id or f"search-{config.digest()}-{uuid.uuid4().hex[:6]}"
    root = Path(args.runs) / run_id
    t0 = time.perf_counter()
    result = run_search(
        bars,
        config,
        folds,
        _grid(args.grid),
        root,
        workers=args.workers,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    result = clean({"run_id": run_id, "spec": spec, **result, "seconds": round(time.perf_counter() - t0, 2)})
    _write_atomic(root / "search.json", result)
    shown = {k: v for k, v in result.items() if k != "configs"} if not args.all else result
    print(json.dumps(shown, indent=None if args.json else 1, default=str))
    return 0


def _shuffle(args: argparse.Namespace) -> int:
    import sys

    import numpy as np

    from backtest.jsonsafe import clean
    from backtest.shuffle import block_shuffle_study, signal_permutation
    from backtest.walkforward import fold_bars, fold_config, replay, train_fold, warmup_bars
    from streams.core.batch import concat

    config, bars, folds, spec = _setup(args)

    def log(m: str) -> None:
        print(m, file=sys.stderr, flush=True)

    run_dir = Path(args.runs) / (args.run_id or f"shuffle-{config.digest()}-{uuid.uuid4().hex[:6]}")
    sigs = []
    for f in folds:
        train, test = fold_bars(bars, f, warmup_bars(config))
        models = train_fold(
            train,
            config,
            run_dir / "folds" / str(f.k),
            created_at=datetime.now(tz=UTC),
            code_version="shuffle",
            params={"fold": f.k},
        )
        s = replay(test, fold_config(config, models), "inprocess")["signals.governed"]
        sigs.append(s.take((s["ts"] >= f.test_from) & (s["ts"] < f.test_to)))
        log(f"[shuffle] fold {f.k + 1}/{len(folds)} replayed for the signal permutation")
    rng = np.random.default_rng(args.seed)
    allsig = concat(sigs)
    perm = signal_permutation(
        allsig,
        folds[0].test_from,
        folds[-1].test_to,
        config.edge.horizon_min,
        rng,
        n_perm=args.n_perm,
    )
    result: dict[str, Any] = {"spec": spec, "signal_permutation": perm}
    if args.n_shuffles > 0:
        result["block_shuffle"] = block_shuffle_study(
            bars,
            config,
            folds,
            n_shuffles=args.n_shuffles,
            block=args.block,
            seed=args.seed,
            workers=args.workers,
            log=log,
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "shuffle.json").write_text(json.dumps(clean(result), default=str))  # read by `hslr report`
    print(json.dumps(clean(result), indent=None if args.json else 1, default=str))
    return 0


def _common(p: Any) -> None:
    p.add_argument("--pairs", default="EURUSD,GBPUSD")
    p.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--to", dest="end", required=True, help="end day (exclusive)")
    p.add_argument("--train", default="6M", help="training window: 6M, 8W, 30D, ... (default 6M)")
    p.add_argument("--test", default="1M", help="test window (default 1M)")
    p.add_argument("--step", default=None, help="fold advance (default: --test; never shorter)")
    p.add_argument(
        "--purge",
        type=int,
        default=None,
        help="train→test gap, minutes (default and minimum: the "
        "label horizon = max(regime label look-ahead, edge horizon))",
    )
    p.add_argument("--embargo", type=int, default=None, help="minutes after a test window (default: horizon)")
    p.add_argument("--anchored", action="store_true", help="expanding training window from --from")
    p.add_argument("--source", choices=("db", "synth"), default="db")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--config", default="", help="pipeline TOML config (default: documented defaults)")
    p.add_argument(
        "--calendar",
        default="",
        help="calendar CSV/JSON (default: the events stored by `hslr calendar import --db` for the window, "
        "else ../shared/data's CSV)",
    )
    p.add_argument("--run-id", default="", help="run id; an existing walk-forward run with it is resumed")
    p.add_argument("--runs", default="runs", help="directory of run directories")
    p.add_argument("--json", action="store_true", help="one-line JSON")


def add_commands(sub: Any) -> None:
    p = sub.add_parser("walkforward", help="walk-forward backtest: train per fold, replay the test windows")
    _common(p)
    p.add_argument("--engine", choices=("kafka", "inprocess"), default="inprocess")
    p.add_argument("--no-db", action="store_true", help="files only (skip backtest_runs/walkforward_folds)")
    p.add_argument("--workers", type=int, default=1, help="folds at once, inprocess engine (same results)")
    p.set_defaults(func=_walkforward)

    p = sub.add_parser("search", help="hyperparameter grid over walk-forward folds → deflated Sharpe and PBO")
    _common(p)
    p.add_argument(
        "--grid",
        default="",
        help='JSON object (or file) {"section.field": [values]}; default backtest.search.DEFAULT_GRID',
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--all", action="store_true", help="print every configuration's result")
    p.set_defaults(func=_search)

    p = sub.add_parser("shuffle", help="permutation and block-shuffle tests of the walk-forward edge")
    _common(p)
    p.add_argument("--n-perm", type=int, default=1000, help="signal/outcome permutations")
    p.add_argument(
        "--n-shuffles", type=int, default=10, help="block-shuffled markets (full re-runs); 0: skip"
    )
    p.add_argument("--block", type=int, default=10, help="block length, bars")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=_shuffle)
