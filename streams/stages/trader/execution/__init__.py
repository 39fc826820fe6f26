"""Execution of the trader stage: limit-order router, paper broker, toxicity monitor, kill switch."""
