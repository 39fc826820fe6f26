# PostgreSQL from Debian (TimescaleDB has no Debian package: migration 0002 keeps plain tables then).
# Configured like the official image: POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB on first start.
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install -y postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
