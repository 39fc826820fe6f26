"""``hslr api``: the data service's HTTP face (REST history, Server-Sent Event streams, a live page).

Depends down on ``streams.storage`` only: history from PostgreSQL through a read-only role, the latest
records per pair from the Redis cache the sink workers keep.
"""
