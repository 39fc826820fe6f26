"""The live trading path: market-data and broker adapters (OANDA v20), the tick -> 1-minute bar
aggregator, stream-health checks and startup reconciliation.

Pure modules (no I/O, time passed in): ``quotes``, ``minute_bars``, ``health``, ``v20_orders``,
``reconcile``. I/O shells: ``oanda_stream`` (pricing stream), ``oanda_broker`` (orders endpoints).
"""
