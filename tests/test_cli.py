"""The ``engram`` CLI: every command through click's runner on real SQLite files, plus real
subprocess runs of the installed console script.

Export, import, stores and settings are in ``test_cli_files.py``; the shared runner is in
``cli_support.py``. The runner uses the deterministic hashing embedder (``ENGRAM_EMBEDDER=hashing``); the
subprocess demo uses the default local model.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram.build import build_memory
from engram.cli import base as cli_base
from engram.cli import cli
from engram.cli.demo import load_sample
from engram.settings import EngramSettings
from engram.store.sqlite import SQLiteStore
from tests.cli_support import COMMANDS, HASHING, Engram, one_line_error, seed
from tests.cli_support import engram as engram  # the fixture

# -- help ------------------------------------------------------------------------------------


def test_help_lists_every_command_and_documents_every_option(engram: Engram) -> None:
    bare = CliRunner().invoke(cli, [], env=HASHING)
    assert "Commands:" in bare.output and "error:" not in bare.output
    result = engram("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.output
    for name in COMMANDS:
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.help, name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts} has no help"  # type: ignore[attr-defined]
        sub = engram(name, "--help")
        assert sub.exit_code == 0 and "Usage: " in sub.output


# -- add / search / context / get / list / delete -----------------------------------------


def test_add_reports_ids_and_duplicates(engram: Engram) -> None:
    first = engram.json("add", "--user", "u", "--session", "s", "--timestamp", "2024-01-01", "hello there")
    again = engram.json("add", "--user", "u", "--session", "s", "--timestamp", "2024-01-01", "hello there")
    assert first["added"] == 1 and first["duplicates"] == 0  # type: ignore[index]
    assert again["added"] == 0 and again["duplicates"] == 1  # type: ignore[index]
    assert first["ids"] == again["ids"]  # type: ignore[index]
    human = engram("add", "--user", "u", "--session", "s", "--role", "assistant", "--name", "Bot", "hi")
    assert human.exit_code == 0 and "1 added" in human.stdout and "Bot" in human.stdout


def test_add_from_stdin_and_from_file(engram: Engram, tmp_path: Path) -> None:
    out = engram.json("add", "--user", "u", "--session", "s", "-", input="from stdin\n")
    assert out["turns"][0]["content"] == "from stdin"  # type: ignore[index]
    messages = tmp_path / "m.json"
    messages.write_text(
        json.dumps(
            [
                {
                    "role": "user",
                    "name": "Ann",
                    "content": "I adopted a greyhound",
                    "timestamp": "2024-05-01T10:00:00Z",
                },
                {"role": "assistant", "content": "Congratulations!"},
            ]
        )
    )
    out = engram.json(
        "add", "--user", "u", "--session", "s2", "--file", str(messages), "--metadata", '{"source": "file"}'
    )
    assert [t["role"] for t in out["turns"]] == ["user", "assistant"]  # type: ignore[index]
    assert out["turns"][0]["metadata"] == {"source": "file"}  # type: ignore[index]
    assert out["turns"][0]["timestamp"].startswith("2024-05-01T10:00:00")  # type: ignore[index]


def test_search_table_json_filters_and_explain(engram: Engram) -> None:
    seed(engram)
    table = engram("search", "where does alice live", "--user", "alice")
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split() == ["rank", "score", "date", "session", "speaker", "text"]
    assert "Lisbon" in table.stdout
    out = engram.json("search", "Lisbon", "--user", "alice", "--k", "2", "--explain")
    assert len(out["hits"]) == 2  # type: ignore[index]
    top = out["hits"][0]  # type: ignore[index]
    assert top["turn"]["content"] == "I moved to Lisbon last week" and "rrf" in top["signals"]
    explained = engram("search", "Lisbon", "--user", "alice", "--explain")
    assert "signals" in explained.stdout and "rrf=" in explained.stdout
    only_s1 = engram.json("search", "Lisbon", "--user", "alice", "--session", "s1")
    assert {h["turn"]["session_id"] for h in only_s1["hits"]} == {"s1"}  # type: ignore[index]
    past = engram.json("search", "Lisbon", "--user", "alice", "--as-of", "2024-02-01")
    assert all(h["turn"]["session_id"] == "s1" for h in past["hits"])  # type: ignore[index]
    window = engram.json("search", "cat", "--user", "alice", "--since", "2024-03-01", "--until", "2024-04-01")
    assert [h["turn"]["session_id"] for h in window["hits"]] == ["s2"]  # type: ignore[index]
    per_command_json = engram("search", "cat", "--user", "alice", "--json")
    assert json.loads(per_command_json.stdout)["query"] == "cat"


def test_context_text_and_json(engram: Engram) -> None:
    seed(engram)
    text = engram("context", "where does alice live?", "--user", "alice", "--budget", "200")
    assert text.exit_code == 0 and "Lisbon" in text.stdout and "tokens" in text.stderr
    out = engram.json("context", "cat name", "--user", "alice", "--session", "s2", "--as-of", "2024-06-01")
    assert out["tokens"] <= out["budget_tokens"] == 2000  # type: ignore[index]
    refs = {i["ref"] for i in out["items"]} | {f["ref"] for f in out["facts"]}  # type: ignore[index]
    assert out["citations"] and set(out["citations"]) == refs  # type: ignore[index]
    assert "Pixel" in out["text"]  # type: ignore[index]
    assert all(i["excerpt"] is False for i in out["items"])  # type: ignore[index]
    whole = engram.json("context", "cat name", "--user", "alice", "--whole")
    assert "Pixel" in whole["text"]  # type: ignore[index]
    one_line_error(engram("context", "cat", "--user", "alice", "--excerpt-tokens", "2"), 2, "--excerpt-tokens")


def test_get_list_delete(engram: Engram) -> None:
    ids = seed(engram)
    turn = engram.json("get", ids[1], "--user", "alice")
    assert turn["content"] == "My cat is called Pixel"  # type: ignore[index]
    assert "My cat is called Pixel" in engram("get", ids[1], "--user", "alice").stdout
    page = engram.json("list", "--user", "alice", "--limit", "2")
    assert [t["id"] for t in page["items"]] == ids[:2] and page["next_cursor"]  # type: ignore[index]
    rest = engram.json("list", "--user", "alice", "--cursor", page["next_cursor"])  # type: ignore[index]
    assert [t["id"] for t in rest["items"]] == ids[2:] and rest["next_cursor"] is None  # type: ignore[index]
    assert "--cursor" in engram("list", "--user", "alice", "--limit", "1").stderr
    one_line_error(engram("delete", ids[0], "--user", "alice"), 2, "--yes")
    receipt = engram.json("delete", ids[0], "--user", "alice", "--yes")
    assert receipt["deleted_ids"] == [ids[0]]  # type: ignore[index]
    one_line_error(engram("get", ids[0], "--user", "alice"), 3, "error: no turn")
    partial = engram("delete", ids[1], "t_missing", "--user", "alice", "--yes")
    one_line_error(partial, 3, "t_missing")
    assert f"deleted {ids[1]}" in partial.stdout
    stats = engram.json("stats", "--user", "alice")
    assert stats["turns"] == 1  # type: ignore[index]


def test_tenants_are_isolated(engram: Engram) -> None:
    engram("--tenant", "a", "add", "--user", "u", "--session", "s", "secret plans")
    assert engram.json("--tenant", "b", "search", "secret", "--user", "u")["hits"] == []  # type: ignore[index]
    assert len(engram.json("--tenant", "a", "search", "secret", "--user", "u")["hits"]) == 1  # type: ignore[index]


# -- errors: one line, the right exit code ----------------------------------------------------


def test_error_paths_print_one_line_with_the_right_exit_code(engram: Engram, tmp_path: Path) -> None:
    one_line_error(engram("add", "--user", "u", "--session", "s", ""), 2, "error: ", "content is empty")
    roles = tmp_path / "roles.json"
    roles.write_text('[{"role": "wizard", "content": "abracadabra"}]')
    one_line_error(engram("add", "--user", "u", "--session", "s", "--file", str(roles)), 2, "'wizard'")
    not_json = tmp_path / "not.json"
    not_json.write_text("[{")
    one_line_error(engram("add", "--user", "u", "--session", "s", "--file", str(not_json)), 2, "not JSON")
    one_line_error(
        engram("add", "--user", "u", "--session", "s", "--timestamp", "last tuesday", "x"),
        2,
        "--timestamp",
        "ISO 8601",
    )
    one_line_error(engram("search", "q", "--as-of", "2024-13-45", "--user", "u"), 2, "--as-of")
    one_line_error(engram("search", "anything"), 2, "Missing option '--user'")
    one_line_error(engram("search", "", "--user", "u"), 2, "query must be a non-empty string")
    one_line_error(engram("add", "--user", "u", "--session", "s", "--metadata", "[1]", "x"), 2, "--metadata")
    one_line_error(engram("frobnicate"), 2, "No such command")
    one_line_error(engram("get", "t_0000", "--user", "nobody"), 3, "no turn 't_0000'")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(4096))
    one_line_error(engram("stats", db=garbage), 4, "cannot open", "Engram store")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    one_line_error(engram("list", "--user", "u", db=foreign), 4, "not an Engram store")
    one_line_error(engram("stats", ENGRAM_EMBEDDER="word2vec"), 2, "ENGRAM_EMBEDDER")


def test_embedder_mismatch_is_a_store_error(engram: Engram, monkeypatch: pytest.MonkeyPatch) -> None:
    engram("add", "--user", "u", "--session", "s", "hello", ENGRAM_EMBEDDER="hashing")
    # A store embedded with the hashing embedder refuses another model's vectors; simulate one.
    from engram.providers.hashing import HashingEmbedder

    class Other(HashingEmbedder):
        def __init__(self) -> None:
            super().__init__(dim=64)

    def other_memory(settings: EngramSettings, *, create: bool) -> object:
        return build_memory(settings, create=create, embedder=Other())

    monkeypatch.setattr(cli_base, "make_memory", other_memory)
    one_line_error(engram("search", "hello", "--user", "u"), 4, "hashing-256")


def test_unexpected_errors_and_interrupts(engram: Engram, monkeypatch: pytest.MonkeyPatch) -> None:
    from engram import Memory

    assert engram("add", "--user", "u", "--session", "s", "hello").exit_code == 0

    def boom(self: object, **_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Memory, "stats", boom)
    line = one_line_error(engram("stats"), 1)
    assert line == "internal error: RuntimeError: boom (run with ENGRAM_DEBUG=1 for a traceback)"
    debug = engram("stats", ENGRAM_DEBUG="1")
    assert isinstance(debug.exception, RuntimeError)

    def interrupted(self: object, **_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Memory, "stats", interrupted)
    result = engram("stats")
    assert result.exit_code == 130 and result.stderr.strip() == "interrupted"


# -- lazy `bench` -------------------------------------------------------------------------------


def test_bench_is_loaded_lazily_and_never_breaks_the_cli(
    engram: Engram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "fake_bench_ok.py").write_text(
        textwrap.dedent("""
        import click

        @click.command("bench", help="Run the benchmarks.")
        def bench():
            click.echo("benching")
    """)
    )
    (tmp_path / "fake_bench_broken.py").write_text("raise RuntimeError('half-written module')\n")
    assert engram("add", "--user", "u", "--session", "s", "hello").exit_code == 0
    for module, listed in [
        ("fake_bench_missing", False),
        ("fake_bench_broken", True),
        ("fake_bench_ok", True),
    ]:
        monkeypatch.setitem(cli_base.LAZY_COMMANDS, "bench", (module, "bench", "bench"))
        help_run = engram("--help")
        assert help_run.exit_code == 0 and ("  bench " in help_run.output) is listed, module
        assert engram("stats").exit_code == 0
    ran = engram("bench")
    assert ran.exit_code == 0 and ran.stdout == "benching\n"
    monkeypatch.setitem(cli_base.LAZY_COMMANDS, "bench", ("fake_bench_broken", "bench", "bench"))
    one_line_error(engram("bench", "locomo"), 1, "internal error: RuntimeError: half-written module")
    monkeypatch.setitem(cli_base.LAZY_COMMANDS, "bench", ("fake_bench_missing", "bench", "bench"))
    one_line_error(engram("bench"), 2, "No such command 'bench'")
    (tmp_path / "fake_bench_extra.py").write_text("import not_installed_plotting_lib\n")
    monkeypatch.setitem(cli_base.LAZY_COMMANDS, "bench", ("fake_bench_extra", "bench", "bench"))
    one_line_error(engram("bench"), 6, "pip install 'engram-recall[bench]'")


# -- progress bar ---------------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_and_is_silent_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with cli_base.progress(10, "importing", enabled=True) as update:
        for _ in range(10):
            update(1)
    assert "importing" in terminal.getvalue() and "10/10" in terminal.getvalue()
    quiet = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    with cli_base.progress(10, "importing", enabled=False) as update:
        update(10)
    assert quiet.getvalue() == ""


# -- demo ---------------------------------------------------------------------------------------------


def test_sample_conversation_is_well_formed() -> None:
    conversation, questions = load_sample()
    turns = [m for s in conversation.sessions for m in s.messages]
    assert conversation.id == "sam" and len(conversation.sessions) == 6 and 60 <= len(turns) <= 80
    starts = [s.timestamp for s in conversation.sessions]
    assert starts == sorted(starts) and (starts[-1] - starts[0]).days > 90  # type: ignore[operator]
    assert {"Where does Sam live now?", "What pet did Sam get?", "What did Sam say about the new job?"} <= {
        q.question for q in questions
    }


def test_demo_runs_end_to_end(engram: Engram, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--db", str(tmp_path / "demo.db")], env=HASHING)
    assert result.exit_code == 0, result.output
    _, questions = load_sample()
    for item in questions:
        assert item.question in result.stdout
    assert "What to try next" in result.stdout and "80 added" in result.stdout
    out = json.loads(
        CliRunner().invoke(cli, ["--json", "demo", "--db", str(tmp_path / "demo.db")], env=HASHING).stdout
    )
    assert out["import"]["duplicates"] == 80 and len(out["questions"]) == len(questions)
    assert all(q["context"]["tokens"] <= 300 for q in out["questions"])
    fresh = CliRunner().invoke(cli, ["demo"], env=HASHING)
    temp_db = Path(fresh.stdout.splitlines()[0].removeprefix("Engram demo: store ").split(" (temporary")[0])
    assert fresh.exit_code == 0 and not temp_db.parent.exists() and temp_db != tmp_path / "demo.db"


# -- the installed console script -------------------------------------------------------------------


def console_script() -> str:
    script = Path(sys.executable).parent / "engram"
    if not script.exists():
        pytest.skip(f"{script} not found: install the package (pip install -e .) to get the console script")
    return str(script)


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ENGRAM_")}
    return subprocess.run(
        [console_script(), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**environ, **env},
        check=False,
    )


@pytest.mark.slow
def test_console_script_demo_with_the_real_model(tmp_path: Path) -> None:
    done = run_script("demo", "--db", str(tmp_path / "demo.db"))
    assert done.returncode == 0, done.stderr
    assert "Where does Sam live now?" in done.stdout and "Highland" in done.stdout
    assert "greyhound named Biscuit" in done.stdout
    search = run_script(
        "--db",
        str(tmp_path / "demo.db"),
        "--json",
        "search",
        "What pet did Sam get?",
        "--user",
        "sam",
        "--k",
        "3",
    )
    assert search.returncode == 0, search.stderr
    assert any("Biscuit" in hit["turn"]["content"] for hit in json.loads(search.stdout)["hits"])


def test_console_script_errors_are_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00not a database" * 300)
    done = run_script("--db", str(garbage), "stats", ENGRAM_EMBEDDER="hashing")
    assert done.returncode == 4 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: cannot open")
    no_store = run_script("get", "t_x", "--user", "u", ENGRAM_DB=str(tmp_path / "new.db"))
    assert no_store.returncode == 4 and no_store.stderr.count("\n") == 1
    assert no_store.stderr.startswith("error: no Engram store at") and not (tmp_path / "new.db").exists()
    SQLiteStore(tmp_path / "new.db").close()
    missing = run_script(
        "get", "t_x", "--user", "u", ENGRAM_DB=str(tmp_path / "new.db"), ENGRAM_EMBEDDER="hashing"
    )
    assert missing.returncode == 3 and missing.stderr.startswith("error: no turn")
    assert run_script("--version").stdout.startswith("engram, version")
