"""The ``engram`` command: global options, the command list and the console-script entry point."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from engram import __version__
from engram.cli.agents import AGENT_COMMANDS
from engram.cli.base import ENV_DB, ENV_TENANT, EngramGroup, Settings, StoreOption
from engram.cli.commands import COMMANDS
from engram.cli.demo import demo_command
from engram.cli.importers import import_command
from engram.cli.lifecycle import LIFECYCLE_COMMANDS
from engram.settings import ENV_CONFIG


@click.group(cls=EngramGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    type=StoreOption(),
    help=f"The store file, or a postgresql:// URL. Default: ${ENV_DB}, else the settings file's, else "
    "engram.db in the user data directory. Reads never create it.",
)
@click.option(
    "--tenant",
    metavar="NAME",
    help=f"The isolation boundary to work in. Default: ${ENV_TENANT}, else 'default'.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"A TOML settings file. Default: ${ENV_CONFIG}.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output on every command.")
@click.version_option(version=__version__, prog_name="engram")
@click.pass_context
def cli(ctx: click.Context, db: Path | str | None, tenant: str | None, config_file: Path | None, as_json: bool) -> None:
    """Engram: long- and short-term memory for LLM agents, in one local SQLite file.

    Start with `engram demo`. Every command takes --json for machine-readable output.
    Commands that only read (search, stats, ...) never create a store: a mistyped --db
    exits 4.

    \b
    Exit codes: 0 ok, 1 internal error, 2 bad input or usage, 3 not found,
    4 store unusable or missing, 5 embedder/LLM provider failed, 6 optional extra
    missing, 130 interrupted.

    \b
    Settings (command line > environment > settings file > defaults):
      ENGRAM_DB            default for --db
      ENGRAM_TENANT        default for --tenant
      ENGRAM_CONFIG        default for --config (a TOML file with the settings below)
      ENGRAM_EMBEDDER      onnx (default) or hashing: the deterministic test embedder
      ENGRAM_RETRIEVAL     the default retrieval recipe (engram)
      ENGRAM_LLM_BASE_URL  an OpenAI-compatible endpoint for `consolidate`, with
      ENGRAM_LLM_MODEL     its model, ENGRAM_LLM_API_KEY, ENGRAM_LLM_TIMEOUT
      ENGRAM_RETENTION_*   the forgetting curve, e.g. ENGRAM_RETENTION_BASE_DAYS=90
      ENGRAM_DEBUG         1 shows tracebacks instead of one-line errors
    """
    settings = ctx.obj = Settings(
        explicit={"db": db, "tenant": tenant, "config_file": config_file}, json=as_json
    )
    ctx.call_on_close(settings.close)


for _command in [*COMMANDS, *LIFECYCLE_COMMANDS, *AGENT_COMMANDS, import_command, demo_command]:
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``engram``)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="engram")
