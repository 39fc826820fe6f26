"""Risk engine of the trader stage: utility sizing, vol targeting, drawdown throttle, pre-trade limits."""
