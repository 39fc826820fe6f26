"""Where the v20 API is and who we are there (the token is a ``SecretStr``: never printed or logged)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

HOSTS = {
    "practice": ("https://api-fxpractice.oanda.com", "https://stream-fxpractice.oanda.com"),
    "live": ("https://api-fxtrade.oanda.com", "https://stream-fxtrade.oanda.com"),
}
"""OANDA's documented REST and streaming hosts per environment."""


@dataclass(frozen=True)
class V20Endpoint:
    rest_url: str
    stream_url: str
    account_id: str
    token: SecretStr

    @classmethod
    def for_env(cls, env: str, account_id: str, token: SecretStr) -> V20Endpoint:
        """The documented hosts of ``env`` (``practice`` or ``live``).

        Raises
        ------
        ValueError
            Unknown environment, or no account id / token (the message never holds the token).
        """
        if env not in HOSTS:
            raise ValueError(f"unknown OANDA environment {env!r}; use one of {sorted(HOSTS)}")
        if not account_id or not token.get_secret_value():
            raise ValueError(
                "OANDA account id and token are required (OANDA_ACCOUNT_ID, OANDA_TOKEN or OANDA_TOKEN_FILE)"
            )
        rest, stream = HOSTS[env]
        return cls(rest, stream, account_id, token)

    @classmethod
    def local(cls, url: str, account_id: str = "101-000-0000000-001") -> V20Endpoint:
        """A local v20-speaking server (tests, soak test, benchmark) on both roles."""
        return cls(url, url, account_id, SecretStr("local-test-token"))

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token.get_secret_value()}",
            "Accept-Datetime-Format": "RFC3339",
            "Content-Type": "application/json",
        }

    def __repr__(self) -> str:  # never the token
        return f"V20Endpoint({self.rest_url!r}, {self.stream_url!r}, account={self.account_id!r})"
