-- HSLR schema. Every sink writes with INSERT ... ON CONFLICT (primary key) DO UPDATE, so a replayed
-- Kafka record rewrites the same row instead of adding one. Time-series tables key on (pair, ts) or ts so
-- that the primary key contains the time column, which TimescaleDB requires of hypertables (0002).

CREATE TABLE price_data (
    pair    TEXT             NOT NULL,
    ts      TIMESTAMPTZ      NOT NULL,  -- bar open time, UTC
    open    DOUBLE PRECISION NOT NULL,
    high    DOUBLE PRECISION NOT NULL,
    low     DOUBLE PRECISION NOT NULL,
    close   DOUBLE PRECISION NOT NULL,
    volume  DOUBLE PRECISION,
    source  TEXT,
    PRIMARY KEY (pair, ts)
);
CREATE INDEX price_data_ts_idx ON price_data (ts DESC);

CREATE TABLE spread_data (
    pair     TEXT             NOT NULL,
    ts       TIMESTAMPTZ      NOT NULL,
    spread   DOUBLE PRECISION NOT NULL,  -- pips
    modeled  BOOLEAN          NOT NULL DEFAULT FALSE,  -- TRUE when no quote existed and the spread is modelled
    PRIMARY KEY (pair, ts)
);
CREATE INDEX spread_data_ts_idx ON spread_data (ts DESC);

CREATE TABLE features (
    pair            TEXT        NOT NULL,
    ts              TIMESTAMPTZ NOT NULL,
    feature_vector  JSONB       NOT NULL,
    ready           BOOLEAN     NOT NULL DEFAULT FALSE,  -- FALSE while rolling windows are still warming up
    PRIMARY KEY (pair, ts)
);
CREATE INDEX features_ts_idx ON features (ts DESC);

CREATE TABLE regime_output (
    pair              TEXT             NOT NULL,
    ts                TIMESTAMPTZ      NOT NULL,
    prob_stable       DOUBLE PRECISION,
    prob_directional  DOUBLE PRECISION,
    prob_event        DOUBLE PRECISION,
    entropy           DOUBLE PRECISION,
    tradeable         BOOLEAN,
    regime            TEXT,
    override_reason   TEXT,  -- set when the news override forced Event_Risk
    PRIMARY KEY (pair, ts)
);
CREATE INDEX regime_output_ts_idx ON regime_output (ts DESC);

CREATE TABLE signals (
    pair             TEXT             NOT NULL,
    ts               TIMESTAMPTZ      NOT NULL,
    expected_return  DOUBLE PRECISION,
    win_prob         DOUBLE PRECISION,
    cvar             DOUBLE PRECISION,
    n_eff            DOUBLE PRECISION,  -- effective number of neighbours behind the estimate
    passed           BOOLEAN,
    blocked_by       TEXT,
    PRIMARY KEY (pair, ts)
);
CREATE INDEX signals_ts_idx ON signals (ts DESC);

CREATE TABLE positions (
    pair            TEXT             NOT NULL,
    ts              TIMESTAMPTZ      NOT NULL,
    size            DOUBLE PRECISION NOT NULL,
    avg_price       DOUBLE PRECISION,
    realized_pnl    DOUBLE PRECISION,
    unrealized_pnl  DOUBLE PRECISION,
    pnl             DOUBLE PRECISION,
    PRIMARY KEY (pair, ts)
);
CREATE INDEX positions_ts_idx ON positions (ts DESC);

CREATE TABLE governance_metrics (
    ts             TIMESTAMPTZ PRIMARY KEY,
    ic             DOUBLE PRECISION,
    kl_divergence  DOUBLE PRECISION,
    entropy_avg    DOUBLE PRECISION,
    state          TEXT,  -- normal | reduced | halted | decommissioned
    action         TEXT
);

CREATE TABLE equity (
    ts               TIMESTAMPTZ      PRIMARY KEY,
    equity           DOUBLE PRECISION NOT NULL,
    high_water_mark  DOUBLE PRECISION NOT NULL,
    drawdown         DOUBLE PRECISION NOT NULL  -- fraction of the high-water mark, 0.03 = 3%
);

-- Orders are keyed by a deterministic client order id, so a re-emitted order can never be sent twice.
CREATE TABLE orders (
    client_order_id  TEXT             PRIMARY KEY,
    pair             TEXT             NOT NULL,
    ts               TIMESTAMPTZ      NOT NULL,
    side             TEXT             NOT NULL,
    qty              DOUBLE PRECISION NOT NULL,
    order_type       TEXT,
    limit_price      DOUBLE PRECISION,
    status           TEXT             NOT NULL,
    reason           TEXT,
    broker_order_id  TEXT,
    updated_at       TIMESTAMPTZ      NOT NULL DEFAULT now()
);
CREATE INDEX orders_ts_idx ON orders (ts DESC);
CREATE INDEX orders_pair_ts_idx ON orders (pair, ts DESC);

CREATE TABLE fills (
    fill_id          TEXT             PRIMARY KEY,
    client_order_id  TEXT             NOT NULL REFERENCES orders (client_order_id),
    pair             TEXT             NOT NULL,
    ts               TIMESTAMPTZ      NOT NULL,
    qty              DOUBLE PRECISION NOT NULL,
    price            DOUBLE PRECISION NOT NULL,
    liquidity        TEXT,  -- maker | taker
    fee              DOUBLE PRECISION,
    slippage_pips    DOUBLE PRECISION
);
CREATE INDEX fills_ts_idx ON fills (ts DESC);
CREATE INDEX fills_order_idx ON fills (client_order_id);

-- Small durable state that must survive restarts (high-water mark, kill switch).
CREATE TABLE risk_state (
    key         TEXT        PRIMARY KEY,
    value       JSONB       NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE model_registry (
    model_id       TEXT        PRIMARY KEY,
    kind           TEXT        NOT NULL,
    version        TEXT        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    training_from  TIMESTAMPTZ,
    training_to    TIMESTAMPTZ,
    features       JSONB,
    params         JSONB,
    metrics        JSONB,
    code_version   TEXT,
    data_hash      TEXT,
    path           TEXT,
    UNIQUE (kind, version)
);

CREATE TABLE calendar_events (
    event_id  TEXT        PRIMARY KEY,
    ts        TIMESTAMPTZ NOT NULL,
    currency  TEXT        NOT NULL,
    impact    TEXT,
    title     TEXT,
    actual    TEXT,  -- as published ("0.3%", "215K"): units vary per event
    forecast  TEXT,
    previous  TEXT,
    source    TEXT
);
CREATE INDEX calendar_events_ts_idx ON calendar_events (ts);
CREATE INDEX calendar_events_currency_ts_idx ON calendar_events (currency, ts);

-- Input rows rejected by validation, kept for inspection instead of silently dropped.
CREATE TABLE quarantine (
    id          BIGSERIAL   PRIMARY KEY,
    source      TEXT        NOT NULL,
    pair        TEXT,
    ts          TIMESTAMPTZ,
    line_no     INTEGER,
    reason      TEXT        NOT NULL,
    raw         TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_created_at_idx ON quarantine (created_at DESC);
CREATE INDEX quarantine_source_idx ON quarantine (source, line_no);

CREATE TABLE backtest_runs (
    run_id        TEXT        PRIMARY KEY,  -- includes a hash of the effective config
    kind          TEXT        NOT NULL,
    config        JSONB       NOT NULL,
    code_version  TEXT,
    data_hash     TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    summary       JSONB
);
CREATE INDEX backtest_runs_created_at_idx ON backtest_runs (created_at DESC);

CREATE TABLE walkforward_folds (
    run_id      TEXT        NOT NULL REFERENCES backtest_runs (run_id) ON DELETE CASCADE,
    fold        INTEGER     NOT NULL,
    train_from  TIMESTAMPTZ NOT NULL,
    train_to    TIMESTAMPTZ NOT NULL,
    test_from   TIMESTAMPTZ NOT NULL,
    test_to     TIMESTAMPTZ NOT NULL,
    model_id    TEXT,
    metrics     JSONB,
    PRIMARY KEY (run_id, fold)
);
