"""Portfolio accounting of the trader stage: positions, average prices, PnL in USD, equity, drawdown."""
