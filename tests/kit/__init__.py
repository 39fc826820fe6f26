"""Every test-record factory, by record kind (NautilusTrader's ``test_kit/stubs``).

``bars`` (random-walk bars), ``features`` (features of a synthetic market, a small trained regime
model), ``news`` (regime records and calendar rows for the news stage), ``regime_adjusted`` (edge-stage
input with an OU law), ``signals`` (edge signals for governance), ``governed`` (governed signals for the
trader).
"""
