-- Stream sinks (streams/storage/sinks.py) write every topic with INSERT ... ON CONFLICT, so a replayed
-- Kafka record rewrites its row instead of adding one. Two tables need a key for that.

-- Dead letters: the original bytes with the reason, for inspection and re-drive. One Kafka message may
-- hold a record batch, and the runtime dead-letters each poison row of it with the message's offset
-- (and two stages may reject the same message), so (topic, partition, offset) alone is not unique:
-- the rejecting stage and a digest of the dead-lettered value complete the key.
CREATE TABLE IF NOT EXISTS dead_letters (
    topic       TEXT        NOT NULL,  -- topic of the original message
    partition   INTEGER     NOT NULL,  -- -1 when unknown
    "offset"    BIGINT      NOT NULL,  -- -1 when unknown
    stage       TEXT        NOT NULL,  -- stage id that rejected it
    value_md5   TEXT        NOT NULL,  -- md5 of value (hex)
    reason      TEXT        NOT NULL,
    error_kind  TEXT        NOT NULL,  -- DECODE | PROCESS | ENCODE | UNKNOWN
    key         BYTEA,
    value       BYTEA       NOT NULL,
    ts          TIMESTAMPTZ,           -- Kafka timestamp of the original message (NULL when unknown)
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset", stage, value_md5)
);
CREATE INDEX IF NOT EXISTS dead_letters_created_at_idx ON dead_letters (created_at DESC);

-- Stream quarantine rows have no line number (0003 only keys file rows); a replayed quarantine record
-- is the same (source, pair, ts, reason, payload), so that is its key.
CREATE UNIQUE INDEX IF NOT EXISTS quarantine_stream_uq
    ON quarantine (source, pair, ts, reason, md5(raw)) NULLS NOT DISTINCT WHERE line_no IS NULL;

-- fills.client_order_id keeps its foreign key to orders: the fills sink first inserts a placeholder
-- order from the execution report (which carries pair, side, quantity and limit price) and the orders
-- sink completes it, so the two topics can be written in either order and replayed any number of times.
