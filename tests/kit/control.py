"""Control records for tests: the tests' operator key and signing."""

from __future__ import annotations

CONTROL_KEY = b"test-only-control-key-not-a-secret"
"""HMAC key of the tests' operator control records (never used outside tests)."""


def signed(record: dict) -> dict:
    """``record`` with the operator signature under :data:`CONTROL_KEY`."""
    from streams.core.control_auth import sign

    return {**record, "signature": sign(record, CONTROL_KEY)}
