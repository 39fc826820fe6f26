-- Stream sinks write the topics of one namespace (Kafka topics <namespace>.<key>; live is 'hslr',
-- backtests and tests use fresh ones). The tables they write had no namespace, so a backtest's sinks
-- overwrote the live rows with the same (pair, ts), ts or client order id. Every sink-written row now
-- carries its namespace and every sink key starts with it. Existing rows become live rows ('hslr').
--
-- Keys keep their ts column, which TimescaleDB requires of hypertables (0002): re-keying a hypertable is
-- allowed when the new key contains the time column. One subcommand per ALTER TABLE, which plain
-- PostgreSQL and TimescaleDB both accept. Constraint names are PostgreSQL's defaults from 0001.
--
-- Not re-keyed:
--   dead_letters: its key holds the full topic name of the original message, <namespace>.<key>.
--   quarantine file rows (line_no set, written by ingest, not by a sink): a file line is the same
--     rejected input whichever namespace it was published to; they get the default namespace.
--   calendar_events: economic events are the same in every namespace (key: event_id).
--   price_data, spread_data: written by ingest and the synthetic-data loader, not by sinks.

ALTER TABLE features ADD COLUMN namespace TEXT NOT NULL DEFAULT 'hslr';
ALTER TABLE features DROP CONSTRAINT features_pkey;
ALTER TABLE features ADD CONSTRAINT features_pkey PRIMARY KEY (namespace, pair, ts);

ALTER TABLE regime_output ADD COLUMN namespace TEXT NOT NULL DEFAULT 'hslr';
ALTER TABLE regime_output DROP CONSTRAINT regime_output_pkey;
ALTER TABLE regime_output ADD CONSTRAINT regime_output_pkey PRIMARY KEY (namespace, pair, ts);

ALTER TABLE signals ADD COLUMN namespace TEXT NOT NULL DEFAULT 'hslr';
ALTER TABLE signals DROP CONSTRAINT signals_pkey;
ALTER TABLE signals ADD CONSTRAINT signals_pkey PRIMARY KEY (namespace, pair, ts);

ALTER TABLE positions ADD COLUMN namespace TEXT NOT NULL DEFAULT 'hslr';
ALTER TABLE positions DROP CONSTRAINT positions_pkey;
ALTER TABLE positions ADD CONSTRAINT positions_pkey PRIMARY KEY (namespace, pair, ts);

ALTER TABLE equity ADD COLUMN namespace TEXT NOT NULL DEFAULT 'hslr';
ALTER TABLE equity DROP CONSTRAINT equity_pkey;
ALTER TABLE equity ADD CONSTRAINT equity_pkey PRIMARY KEY (namespace, ts);

ALTER TABLE governance_metrics ADD COLUMN namespace TEXT NOT NULL DEFAULT 'hslr';
ALTER TABLE governance_metrics DROP CONSTRAINT governance_metrics_pkey;
ALTER TABLE governance_metrics ADD CONSTRAINT governance_metrics_pkey PRIMARY KEY (namespace, ts);

-- Orders and fills (plain tables): the foreign key goes first, as it depends on the orders key.
ALTER TABLE fills DROP CONSTRAINT fills_client_order_id_fkey;
ALTER TABLE orders ADD COLUMN namespace TEXT NOT NULL DEFAULT 'hslr';
ALTER TABLE orders DROP CONSTRAINT orders_pkey;
ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY (namespace, client_order_id);
ALTER TABLE fills ADD COLUMN namespace TEXT NOT NULL DEFAULT 'hslr';
ALTER TABLE fills DROP CONSTRAINT fills_pkey;
ALTER TABLE fills ADD CONSTRAINT fills_pkey PRIMARY KEY (namespace, fill_id);
ALTER TABLE fills ADD CONSTRAINT fills_client_order_id_fkey
    FOREIGN KEY (namespace, client_order_id) REFERENCES orders (namespace, client_order_id);

-- Stream quarantine rows (line_no NULL, written by the quarantine sink) are keyed per namespace: two
-- namespaces replaying the same bars each keep their own rejects. File rows keep their key from 0003.
ALTER TABLE quarantine ADD COLUMN namespace TEXT NOT NULL DEFAULT 'hslr';
DROP INDEX quarantine_stream_uq;
CREATE UNIQUE INDEX quarantine_stream_uq
    ON quarantine (namespace, source, pair, ts, reason, md5(raw)) NULLS NOT DISTINCT WHERE line_no IS NULL;
