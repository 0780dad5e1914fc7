"""Engram's settings, in one typed object: explicit values, then the environment, then a file.

:class:`EngramSettings` is what the entry points (the CLI, the server, the bench) turn into a
:class:`~engram.Memory` with :func:`engram.build.build_memory`. The library itself never reads
the environment: only creating an :class:`EngramSettings` does.

Precedence, highest first: values passed to the constructor (the CLI's options), ``ENGRAM_*``
environment variables, the TOML file named by ``config_file`` / ``$ENGRAM_CONFIG``, the
defaults. Nested values use one underscore: ``ENGRAM_LLM_BASE_URL`` is ``llm.base_url`` and
``ENGRAM_RETENTION_BASE_DAYS`` is ``retention.base_days``. The file::

    db = "/srv/engram/engram.db"
    tenant = "default"
    embedder = "onnx"            # or "hashing" (tests, offline experiments)
    retrieval = "engram"         # a recipe: engram, engram-episodes, hybrid, bm25, vector
    vector_cache_mb = 1024       # memory for loaded users' vector indexes (SQLite store)
    fulltext_cache_mb = 256      # memory for query terms' posting lists (SQLite store, large users)

    [llm]                        # optional: consolidation's fact extraction
    base_url = "http://127.0.0.1:8080/v1"
    model = "qwen2.5-7b-instruct"
    timeout = 60                 # api_key: better from $ENGRAM_LLM_API_KEY than from a file

    [retention]                  # the forgetting curve (engram.RetentionPolicy)
    base_days = 90
    archive_below = 0.05
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from engram.errors import ValidationError
from engram.model.retention import RetentionPolicy
from engram.model.scope import DEFAULT_TENANT
from engram.read.retrieve import DEFAULT_RECIPE, RECIPES
from engram.store.sqlite.postings import FULLTEXT_CACHE_MB
from engram.store.vector_cache import VECTOR_CACHE_MB

ENV_PREFIX = "ENGRAM_"
#: The environment variable naming the settings file.
ENV_CONFIG = "ENGRAM_CONFIG"
EMBEDDERS = ("onnx", "hashing")


class LLMSettings(BaseModel):
    """An OpenAI-compatible chat endpoint for consolidation (``ENGRAM_LLM_*``); off unless both
    ``base_url`` and ``model`` are set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:8080/v1")
    model: str | None = Field(default=None, description="The model name the endpoint serves.")
    api_key: SecretStr | None = Field(default=None, description="Sent as a bearer token; never shown.")
    timeout: float = Field(default=60.0, gt=0, description="Seconds per request.")
    max_retries: int = Field(default=3, ge=0, description="Resends after rate limits and server errors.")

    @property
    def configured(self) -> bool:
        """Whether an LLM is configured (a base URL and a model)."""
        return bool(self.base_url and self.model)


class EngramSettings(BaseSettings):
    """Everything an entry point needs to build a :class:`~engram.Memory`.

    Attributes:
        db: the store file, or a ``postgresql://`` URL (``ENGRAM_DB``); ``None`` is
            :func:`engram.default_path`.
        tenant: the tenant to work in (``ENGRAM_TENANT``).
        embedder: ``"onnx"`` (the local model) or ``"hashing"`` (deterministic, for tests;
            its vectors are not interchangeable with the model's) (``ENGRAM_EMBEDDER``).
        retrieval: the default retrieval recipe (``ENGRAM_RETRIEVAL``).
        vector_cache_mb: the SQLite store's memory budget, in MiB, for the vector indexes of
            the users it keeps loaded; the least recently searched are evicted beyond it and
            reloaded from the file when searched again. One user larger than the budget
            stays loaded alone (about 2.1 KB a turn with its HNSW graph)
            (``ENGRAM_VECTOR_CACHE_MB``).
        fulltext_cache_mb: the SQLite store's memory budget, in MiB, for the posting lists of
            the query terms it keeps to rank a large user's turns (from 3,000) without
            FTS5 walking them on every search; the least recently used terms are dropped
            beyond it, and all of them when turns are deleted (appended turns are taken in)
            (24 bytes a turn holding a term; 0 turns the in-memory ranking off)
            (``ENGRAM_FULLTEXT_CACHE_MB``).
        llm: the LLM for consolidation (``ENGRAM_LLM_BASE_URL``, ``_MODEL``, ``_API_KEY``,
            ``_TIMEOUT``, ``_MAX_RETRIES``).
        retention: the forgetting curve (``ENGRAM_RETENTION_BASE_DAYS``, ...).
        config_file: the TOML file read under the environment (``ENGRAM_CONFIG``).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    db: Path | str | None = None  # a file, or a postgresql:// URL (kept as a string)
    tenant: str = DEFAULT_TENANT
    embedder: Literal["onnx", "hashing"] = "onnx"
    retrieval: str = DEFAULT_RECIPE
    vector_cache_mb: float = Field(default=VECTOR_CACHE_MB, ge=0)
    fulltext_cache_mb: float = Field(default=FULLTEXT_CACHE_MB, ge=0)
    llm: LLMSettings = LLMSettings()
    retention: RetentionPolicy = RetentionPolicy()
    config_file: Path | None = Field(default=None, validation_alias=ENV_CONFIG)

    @field_validator("db", mode="before")
    @classmethod
    def _file_or_url(cls, value: Any) -> Any:
        from engram.store.opening import as_target

        return None if value is None else as_target(value)

    @field_validator("retrieval")
    @classmethod
    def _known_recipe(cls, value: str) -> str:
        if value not in RECIPES:
            raise ValueError(f"unknown retrieval recipe {value!r}; choose one of {', '.join(RECIPES)}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlFile(settings_cls, init_settings)


class _TomlFile(PydanticBaseSettingsSource):
    """The TOML file named by the ``config_file`` argument, else by ``$ENGRAM_CONFIG``."""

    def __init__(self, settings_cls: type[BaseSettings], init: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._given = init.init_kwargs if isinstance(init, InitSettingsSource) else {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        named = self._given.get("config_file") or self._given.get(ENV_CONFIG) or os.environ.get(ENV_CONFIG)
        if not named:
            return {}
        path = Path(named)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValidationError(f"cannot read the settings file {path}: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(f"the settings file {path} is not valid TOML: {exc}") from exc
        data.pop("config_file", None)
        return data


def load_settings(**explicit: Any) -> EngramSettings:
    """Read the settings; ``explicit`` values (``None`` ones are left out) win over everything.

    Raises:
        ValidationError: a value is invalid; the message names the setting and its
            environment variable.
    """
    given = {name: value for name, value in explicit.items() if value is not None}
    try:
        return EngramSettings(**given)
    except pydantic.ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors(include_url=False))
        raise ValidationError(f"invalid setting: {problems}") from exc


def _describe(error: Any) -> str:
    path = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
    env = ENV_PREFIX + "_".join(path).upper()
    return f"{'.'.join(path) or 'settings'} (${env}): {error.get('msg', 'invalid')}"
