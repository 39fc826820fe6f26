-- Re-ingesting the same file must be a no-op: a rejected line is identified by its source file and line
-- number (stream stages quarantine through the quarantine topic, where line_no is NULL and the Kafka
-- offset already makes the record unique).
CREATE UNIQUE INDEX IF NOT EXISTS quarantine_source_line_uq ON quarantine (source, line_no) WHERE line_no IS NOT NULL;
