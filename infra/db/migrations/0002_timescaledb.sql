-- Optional TimescaleDB: turns the time-series tables into hypertables when the extension is available
-- and preloaded (docker-compose uses timescale/timescaledb). Plain PostgreSQL (CI, Debian package) skips
-- this block entirely, so the schema is the same either way apart from storage layout.
-- Orders, fills and quarantine stay plain tables: their keys do not contain the time column and their
-- volume is small.
DO $$
DECLARE
    t TEXT;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       OR current_setting('shared_preload_libraries') NOT LIKE '%timescaledb%' THEN
        RAISE NOTICE 'timescaledb not available: keeping plain tables';
        RETURN;
    END IF;
    CREATE EXTENSION IF NOT EXISTS timescaledb;
    FOREACH t IN ARRAY ARRAY['price_data', 'spread_data', 'features', 'regime_output', 'signals',
                             'positions', 'governance_metrics', 'equity'] LOOP
        -- The ts indexes already exist (0001), so the default ones would only duplicate them.
        EXECUTE format('SELECT create_hypertable(%L, %L, if_not_exists => TRUE, migrate_data => TRUE, '
                       'create_default_indexes => FALSE)', t, 'ts');
    END LOOP;
END
$$;
