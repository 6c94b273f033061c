"""Settings: where data lives and which backend serves each need.

One pydantic-settings model, sources in priority order: explicit keyword arguments >
`SHOPMIND_*` environment variables > the YAML file (`$SHOPMIND_HOME/config.yaml`, or the file named
by `SHOPMIND_CONFIG`) > defaults that work offline. No other module reads `SHOPMIND_*` itself:
every tunable (thread counts, font override, cache folders) is a field here, so `config show`
lists everything that can change behaviour.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

_ENV_PREFIX = "SHOPMIND_"


class _YamlFileSource(PydanticBaseSettingsSource):
    """`config.yaml` of the data home the higher-priority sources point at (or `SHOPMIND_CONFIG`)."""

    def __init__(self, settings_cls: type[BaseSettings], init: PydanticBaseSettingsSource,
                 env: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._init, self._env = init, env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        upper = {**self._env(), **self._init()}
        path = config_file_path(upper.get("home"), upper.get("config"))
        if not path.is_file():
            return {}
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
        loaded.pop("home", None)  # the file lives in the home: it cannot move it
        return loaded


class Settings(BaseSettings):
    """Every tunable the layers read. Defaults run offline on a laptop."""

    model_config = SettingsConfigDict(env_prefix=_ENV_PREFIX, env_ignore_empty=True, extra="ignore",
                                      validate_default=True)

    home: Path = Field(default_factory=lambda: Path(".shopmind"))
    config: Path | None = None  # the YAML file read as a source (default: home/config.yaml)
    models_path: Path | None = None  # share exported models between data dirs (default: home/models)
    image_encoder: str = "efficientnet-lite0"  # or "clip"
    image_precision: Literal["fp32", "int8"] = "fp32"  # int8: static-INT8 EfficientNet-Lite0 (models/quantize.py)
    text_encoder: str = "e5-small"  # or "clip"
    ocr: str = "rapidocr"
    tts_backend: str = "auto"  # auto | espeak-ng | piper | kokoro | per language "zh=kokoro,en=piper" (models/tts_select.py)
    vector_backend: str = "lancedb"  # or "qdrant"
    vector_uri: str | None = None  # server/cluster URI (http(s):// Qdrant, s3:// LanceDB); None = embedded under home
    vector_read_consistency_s: float = 0.0  # s3:// LanceDB replicas: how stale a read may be (0 = check every read)
    # LanceDB tables served from an in-memory snapshot (FAISS HNSW when large) per replica (search/serving.py):
    # auto = under `shopmind serve` only; memory = always; lancedb = never (every query asks LanceDB).
    vector_serving: Literal["auto", "memory", "lancedb"] = "auto"
    vector_serving_ef: int = Field(default=1024, ge=16, le=8192)  # HNSW beam width: recall vs latency (benchmarks.md)
    vector_serving_refresh_s: float = Field(default=1.0, ge=0.0)  # how soon another process's writes are noticed
    clip_model: str | None = None  # local path or hub id for the CLIP backend
    clip_pretrained: str | None = None
    llm: str = "llama-cpp"  # or "openai"
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    max_image_bytes: int = 40 * 1024 * 1024
    max_image_pixels: int = 64_000_000
    batch_size: int = 64
    seed: int = 0
    compliance_llm_judge: bool = False  # ask the LLM backend about borderline 广告法 clauses (compliance/judge.py)
    # API safety (issue 12): bounds checked before a request costs anything, per-key throttles, CORS, jobs.
    api_max_body_bytes: int = 8 * 1024 * 1024  # JSON bodies (a ticket photo travels base64 inside one)
    api_max_small_body_bytes: int = 256 * 1024  # /search and /recommend: a query, filters, a history of ids
    api_max_upload_bytes: int = 512 * 1024 * 1024  # catalog uploads (multipart) to /catalog/ingest and /jobs/ingest
    api_max_query_chars: int = 2000  # a search query or a text to check longer than this is refused (422)
    api_max_text_chars: int = 100_000  # any other single JSON string (ad copy, a ticket message …)
    api_max_items: int = 10_000  # longest JSON list in one request (ids, events, basket items …)
    api_max_json_depth: int = 32  # deepest JSON nesting accepted
    api_max_catalog_rows: int = 1_000_000  # rows in one uploaded catalog
    api_rate_per_minute: float = 60.0  # LLM/media requests per key (token bucket refill)
    api_rate_burst: int = 10  # … and the bucket's size
    api_max_concurrent: int = 2  # LLM/media requests in flight per key
    api_cors_origins: str = ""  # comma-separated origins allowed by CORS; empty = CORS off
    api_public_docs: bool = False  # serve /docs and /openapi.json without a key even when auth is on
    api_public_streams: bool = False  # serve /streams (HLS) without a key: most players cannot send headers
    api_graceful_shutdown_s: int = 10  # how long `serve` lets requests finish after SIGTERM
    api_threads: int = 8  # worker threads for sync routes; more only add GIL contention on a few cores
    api_gc_freeze_ms: float = Field(50.0, ge=0)  # a full GC pass slower than this freezes the live heap (0 = off)
    api_worker_nice: int = Field(5, ge=0, le=19)  # the server's non-event-loop threads run this many nice steps below the loop (Linux; 0 = off)
    jobs_workers: int = 1  # background job threads in the server
    # Catalog ingestion under hostile input (issue 12): see catalog/ingest.py `IngestLimits`.
    ingest_max_field_chars: int = 65_536  # a longer cell / JSON string rejects its row
    ingest_max_line_chars: int = 8 * 1024 * 1024  # a longer CSV record or JSON line is reported and skipped
    ingest_max_depth: int = 32  # JSON nesting depth per row
    ingest_max_int_digits: int = 64  # longer JSON integers are rejected
    ingest_max_columns: int = 2_000  # CSV header columns
    ingest_max_attributes: int = 500  # attributes per product
    ingest_allow_urls: bool = False  # fetch http(s) image URLs named in a catalog
    ingest_allow_private_urls: bool = False  # … including private/loopback/link-local addresses (SSRF guard off)
    ingest_url_timeout: float = 10.0  # seconds per image URL
    # Process tunables that modules used to read from the environment themselves.
    ocr_threads: int = 0  # RapidOCR intra-op threads (0 = min(2, cores))
    llm_threads: int = 0  # llama.cpp threads (0 = min(2, cores))
    ray_actor_threads: int = 1  # onnxruntime threads per Ray embed actor (each actor holds one CPU)
    font: Path | None = None  # a CJK font file to draw posters/subtitles with (default: first system one)
    e5_cache: Path | None = None  # folder of cached e5 passage vectors (default: home/cache/e5)

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _YamlFileSource(settings_cls, init_settings, env_settings)

    @property
    def db_path(self) -> Path:
        return self.home / "shopmind.db"

    @property
    def images_dir(self) -> Path:
        return self.home / "images"

    @property
    def models_dir(self) -> Path:
        return self.models_path or self.home / "models"

    @property
    def vectors_dir(self) -> Path:
        return self.home / "vectors"

    def ensure_dirs(self) -> "Settings":
        for d in (self.home, self.images_dir, self.models_dir, self.vectors_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self


def config_file_path(home: Any = None, explicit: Any = None) -> Path:
    """The YAML settings file: `explicit` (or SHOPMIND_CONFIG), else `<home>/config.yaml`."""
    explicit = explicit or os.environ.get(_ENV_PREFIX + "CONFIG") or None
    if explicit:
        return Path(explicit).expanduser()
    home = home or os.environ.get(_ENV_PREFIX + "HOME") or ".shopmind"
    return Path(home).expanduser().resolve() / "config.yaml"


def env_value(name: str) -> str | None:
    """The raw `SHOPMIND_<NAME>` value (for `config get` to say where a value came from)."""
    raw = os.environ.get(_ENV_PREFIX + name.upper())
    return raw if raw else None


def load_settings(**overrides: Any) -> Settings:
    """Build settings from YAML file < environment < explicit overrides (None overrides are ignored)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (tests call `get_settings.cache_clear()` after changing the env)."""
    return load_settings()
