-- Model registry: the artifact's checksum on its row, and the promotion history that
-- `hslr models promote VERSION | rollback` writes (workers run the promoted version).
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS model_sha256 TEXT;

CREATE TABLE IF NOT EXISTS model_promotions (
    id           BIGSERIAL   PRIMARY KEY,
    kind         TEXT        NOT NULL,
    version      TEXT        NOT NULL,
    action       TEXT        NOT NULL CHECK (action IN ('promote', 'rollback')),
    previous     TEXT,
    promoted_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (kind, version) REFERENCES model_registry (kind, version)
);
CREATE INDEX IF NOT EXISTS model_promotions_kind_id ON model_promotions (kind, id);
