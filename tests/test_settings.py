"""One settings object and one builder: precedence, errors, and what a built memory holds."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory, RetentionPolicy
from engram.build import SHARED_COMPONENTS, build_llm, build_memory, close_memory, for_tenant, open_store
from engram.errors import StoreNotFoundError, ValidationError
from engram.providers.llm import OpenAICompatibleLLM
from engram.read.retrieve import RECIPES
from engram.settings import EngramSettings, LLMSettings, load_settings
from engram.testing import ScriptedLLM
from tests.conftest import FixedClock


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("ENGRAM_"):
            monkeypatch.delenv(name)


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_environment_or_file() -> None:
    settings = load_settings()
    assert settings.db is None and settings.tenant == "default" and settings.embedder == "onnx"
    assert settings.retrieval == "engram" and settings.retention == RetentionPolicy()
    assert not settings.llm.configured


def test_explicit_beats_environment_beats_file_beats_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_toml(
        tmp_path / "engram.toml",
        'db = "file.db"\ntenant = "from-file"\nretrieval = "bm25"\n'
        '[llm]\nbase_url = "http://file/v1"\nmodel = "file-model"\n[retention]\nbase_days = 7\n',
    )
    monkeypatch.setenv("ENGRAM_CONFIG", str(config))
    from_file = load_settings()
    assert (from_file.db, from_file.tenant, from_file.retrieval) == (Path("file.db"), "from-file", "bm25")
    assert from_file.retention.base_days == 7 and from_file.retention.max_days == RetentionPolicy().max_days
    monkeypatch.setenv("ENGRAM_DB", "env.db")
    monkeypatch.setenv("ENGRAM_LLM_MODEL", "env-model")
    monkeypatch.setenv("ENGRAM_RETENTION_BASE_DAYS", "30")
    from_env = load_settings()
    assert from_env.db == Path("env.db") and from_env.tenant == "from-file"
    assert from_env.llm.model == "env-model" and from_env.llm.base_url == "http://file/v1"
    assert from_env.retention.base_days == 30
    explicit = load_settings(db=tmp_path / "cli.db", tenant=None)  # None: not given
    assert explicit.db == tmp_path / "cli.db" and explicit.tenant == "from-file"


def test_the_api_key_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_LLM_API_KEY", "sk-very-secret")
    settings = load_settings()
    assert "sk-very-secret" not in repr(settings) and "sk-very-secret" not in str(settings.model_dump())
    assert settings.llm.api_key is not None and settings.llm.api_key.get_secret_value() == "sk-very-secret"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("ENGRAM_EMBEDDER", "word2vec", "$ENGRAM_EMBEDDER"),
        ("ENGRAM_RETRIEVAL", "magic", "$ENGRAM_RETRIEVAL"),
        ("ENGRAM_RETENTION_BASE_DAYZ", "3", "$ENGRAM_RETENTION_BASE_DAYZ"),
        ("ENGRAM_LLM_TIMEOUT", "-1", "$ENGRAM_LLM_TIMEOUT"),
    ],
)
def test_a_bad_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=named.replace("$", r"\$")):
        load_settings()


def test_a_missing_or_broken_settings_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read the settings file"):
        load_settings(config_file=tmp_path / "nowhere.toml")
    with pytest.raises(ValidationError, match="not valid TOML"):
        load_settings(config_file=write_toml(tmp_path / "bad.toml", "db = "))
    with pytest.raises(ValidationError, match="surprise"):
        load_settings(config_file=write_toml(tmp_path / "extra.toml", "surprise = 1\n"))


def test_every_recipe_can_be_configured() -> None:
    assert {load_settings(retrieval=name).retrieval for name in RECIPES} == set(RECIPES)


def test_an_llm_needs_both_url_and_model() -> None:
    assert build_llm(LLMSettings()) is None
    with pytest.raises(ValidationError, match="ENGRAM_LLM_MODEL"):
        build_llm(LLMSettings(base_url="http://127.0.0.1:9/v1"))
    llm = build_llm(LLMSettings(base_url="http://127.0.0.1:9/v1", model="m", timeout=5, max_retries=1))
    assert isinstance(llm, OpenAICompatibleLLM) and llm.max_retries == 1
    llm.close()


def test_build_memory_applies_every_setting(tmp_path: Path) -> None:
    settings = EngramSettings(
        db=tmp_path / "built.db",
        tenant="acme",
        embedder="hashing",
        retrieval="engram-episodes",
        llm=LLMSettings(base_url="http://127.0.0.1:9/v1", model="m"),
        retention=RetentionPolicy(base_days=5),
    )
    memory = build_memory(settings)
    try:
        assert memory.tenant == "acme" and isinstance(memory.embedder, HashingEmbedder)
        assert memory.retrieval == RECIPES["engram-episodes"]
        assert isinstance(memory.llm, OpenAICompatibleLLM) and memory.llm.model == "m"
        assert memory.retention_policy.base_days == 5
        assert (tmp_path / "built.db").exists()
    finally:
        close_memory(memory)


def test_reads_never_create_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "deeper" / "x.db"
    settings = EngramSettings(db=missing, embedder="hashing")
    with pytest.raises(StoreNotFoundError, match="no Engram store at"):
        build_memory(settings, create=False)
    with pytest.raises(StoreNotFoundError):
        open_store(settings, create=False)
    assert not (tmp_path / "typo").exists()
    build_memory(settings, create=True).close()
    build_memory(settings, create=False).close()  # now it exists


def test_a_tenant_view_shares_every_component_of_its_base(tmp_path: Path) -> None:
    # Every constructor argument of Memory but path and tenant must be carried over: a new
    # argument makes this fail until for_tenant (SHARED_COMPONENTS) carries it.
    arguments = set(inspect.signature(Memory.__init__).parameters) - {"self", "path", "tenant"}
    assert arguments == set(SHARED_COMPONENTS)
    clock = FixedClock()
    base = Memory(
        tmp_path / "base.db",
        embedder=HashingEmbedder(),
        retrieval="bm25",
        llm=ScriptedLLM([]),
        retention=RetentionPolicy(base_days=3),
        clock=clock,
    )
    view = for_tenant(base, "other")
    assert view.tenant == "other"
    for attribute in SHARED_COMPONENTS.values():
        assert getattr(view, attribute) is getattr(base, attribute), attribute
    base.close()


def test_the_bench_builds_engrams_llm_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from engram.bench.cli import _engram_llm

    with pytest.raises(ValidationError, match="ENGRAM_LLM_BASE_URL"):
        _engram_llm()
    monkeypatch.setenv("ENGRAM_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ENGRAM_LLM_MODEL", "bench-model")
    monkeypatch.setenv("ENGRAM_LLM_TIMEOUT", "7")
    llm = _engram_llm()
    assert isinstance(llm, OpenAICompatibleLLM) and llm.model == "bench-model"
    assert llm._client.timeout.read == 7
    llm.close()
