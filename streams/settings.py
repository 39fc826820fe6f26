"""Environment settings, read in this one place (pydantic-settings)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="",
        extra="ignore",
        frozen=True,
        # secrets of a deployment (control key, Redis password): infra/hslr.env, git-ignored; the
        # environment wins over the file; see infra/hslr.env.example
        env_file=Path(__file__).resolve().parents[1] / "infra" / "hslr.env",
        env_file_encoding="utf-8",
    )

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    """Broker to use (env KAFKA_BOOTSTRAP_SERVERS); the project starts one on this address by default."""
    hslr_namespace: str = "hslr"
    """Topic prefix and consumer-group prefix; backtests use a fresh one per run."""
    schema_registry_url: str = ""
    """When set, topics use the Confluent wire format with this schema registry."""
    hslr_pg_dsn: SecretStr = SecretStr("postgresql://hslr:hslr@127.0.0.1:5432/hslr")
    redis_url: str = "redis://127.0.0.1:6379/0"
    prometheus_url: str = "http://127.0.0.1:9090"
    hslr_metrics_port: int = 8000
    """First port for worker metrics endpoints (each worker takes the next free one)."""
    hslr_batch_max: int = 2000
    """Largest batch a Faust agent hands to a stage."""
    hslr_batch_within_s: float = 0.002
    """How long an agent waits to fill a batch: bounds the added latency per stage."""
    hslr_message_records: int = 500
    """Most records per Kafka message (record batches amortise the per-message cost; 1 = one per message)."""
    hslr_config: str = ""
    """Path of the TOML pipeline config; empty means documented defaults."""
    hslr_stages: str = ""
    """Comma-separated stage ids a worker runs; empty means all."""
    hslr_control_key: SecretStr = SecretStr("")
    """Key of the operator control records' HMAC (no default: unset, nothing clears a KILL)."""
    hslr_control_key_file: str = ""
    """File holding the control key (read when HSLR_CONTROL_KEY is unset)."""
    redis_password: SecretStr = SecretStr("")
    """Redis ``requirepass`` (env REDIS_PASSWORD; infra/hslr.env): the services script applies it."""
    hslr_fuse: bool = False
    """Run the worker's stages as one co-located agent (``hslr worker --fuse``; streams/core/fused.py)."""
    hslr_faust_datadir: str = ""
    """Faust's local data folder; empty means ``.cache/faust/<namespace>``."""
    hslr_shared_data: str = ""
    """The shared data folder (real calendar); empty means ``<repo>/../shared/data``."""
    hslr_realdata_dir: str = ""
    """Folder of real M1 files for the optional ``realdata`` tests (``infra/fetch_realdata.sh``); empty skips them."""
    hslr_migrations_dir: str = ""
    """Migrations folder; empty means the repository's ``infra/db/migrations``."""
    hslr_scrape_targets_dir: str = ""
    """Folder Prometheus' file_sd watches; empty means ``<repo>/.cache/prometheus/targets``."""
    hslr_scrape_host: str = "127.0.0.1"
    """Host Prometheus scrapes a worker's metrics on (a container name under docker-compose)."""
    hslr_log_level: str = ""
    """Level of the log (DEBUG, INFO, WARNING, ERROR; ``hslr -v`` means DEBUG); empty: INFO for commands,
    WARNING for workers (Faust is chatty at INFO)."""
    hslr_log_format: str = "auto"
    """``json`` (one object a line), ``text`` (human-readable) or ``auto``: text on a terminal, else JSON."""
    hslr_run_id: str = ""
    """Run id stamped on every log line; empty: the worker's namespace (a backtest's is its own)."""
    hslr_data_dir: str = ""
    """Where generated data goes, trained models first (env HSLR_DATA_DIR). Empty: the source checkout's
    git-ignored ``var/`` when the code runs from one, else ``$XDG_DATA_HOME/hslr`` (``~/.local/share``).
    Never the working directory: a ``./models/`` there would shadow the ``models`` package."""
    oanda_env: str = "practice"
    """OANDA environment of the live path: ``practice`` (demo account) or ``live`` (real money)."""
    oanda_account_id: str = ""
    """OANDA v20 account id (env OANDA_ACCOUNT_ID or infra/hslr.env)."""
    oanda_token: SecretStr = SecretStr("")
    """OANDA v20 API token (env OANDA_TOKEN or infra/hslr.env; never logged)."""
    oanda_token_file: str = ""
    """File holding the token (read when OANDA_TOKEN is unset)."""
    xdg_data_home: str = ""
    """The XDG base directory for user data (env XDG_DATA_HOME); empty means ``~/.local/share``."""
    hslr_api_tokens: SecretStr = SecretStr("")
    """Bearer tokens of ``hslr api``, comma-separated, each at least 16 characters (no default: without
    one the API refuses to start)."""
    hslr_api_pg_dsn: SecretStr = SecretStr("")
    """DSN of the API's read-only database role; empty: ``hslr_pg_dsn`` with user ``hslr_api_pg_user``
    and password ``hslr_api_pg_password``."""
    hslr_api_pg_user: str = "hslr_api"
    """Login role of the API (a member of the read-only group role ``hslr_reader``; infra/services.sh)."""
    hslr_api_pg_password: SecretStr = SecretStr("")
    """Password of ``hslr_api_pg_user`` (infra/hslr.env; no default)."""
    hslr_api_rate_per_min: int = 600
    """Requests per minute per token (a token bucket of that size, refilled continuously); over it: 429."""
    hslr_api_streams_per_token: int = 4
    """Concurrent stream connections per token; one more: 429."""
    hslr_api_cors_origins: str = ""
    """Comma-separated origins allowed by CORS; empty (default): no CORS headers at all."""
    hslr_api_poll_s: float = 0.5
    """How often a stream looks for newer records in the Redis cache (seconds)."""


@cache
def settings() -> Settings:
    return Settings()


PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The directory that holds the ``streams`` and ``models`` packages."""


def data_dir() -> Path:
    """The data directory (see :attr:`Settings.hslr_data_dir`), absolute."""
    configured = settings().hslr_data_dir
    if configured:
        return Path(configured).expanduser().resolve()
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "var"
    xdg = settings().xdg_data_home or str(Path.home() / ".local" / "share")
    return Path(xdg) / "hslr"


def data_path(path: str | Path) -> Path:
    """``path`` if absolute, else ``path`` inside the data directory (relative model paths of the
    pipeline config, e.g. the default ``models/artifacts/regime/latest``, live there)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else data_dir() / p


def oanda_token(s: Settings | None = None) -> SecretStr:
    """The OANDA token (OANDA_TOKEN, else the file OANDA_TOKEN_FILE); empty when neither is set.

    Raises
    ------
    ValueError
        The token file is named but cannot be read (the message names the file, never its content).
    """
    s = s or settings()
    token = s.oanda_token.get_secret_value().strip()
    if not token and s.oanda_token_file:
        try:
            token = Path(s.oanda_token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"OANDA_TOKEN_FILE {s.oanda_token_file}: {exc.strerror}") from None
    return SecretStr(token)


def control_key(s: Settings | None = None) -> bytes | None:
    """The operator control key (HSLR_CONTROL_KEY, else the file HSLR_CONTROL_KEY_FILE); None if unset.

    Raises
    ------
    ValueError
        The key file is named but cannot be read, or the key is shorter than 16 bytes.
    """
    s = s or settings()
    key = s.hslr_control_key.get_secret_value().strip()
    if not key and s.hslr_control_key_file:
        try:
            key = Path(s.hslr_control_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"HSLR_CONTROL_KEY_FILE {s.hslr_control_key_file}: {exc.strerror}") from None
    if not key:
        return None
    if len(key) < 16:
        raise ValueError("the control key must be at least 16 characters")
    return key.encode()
