"""The ``engram`` command: global options, the command list and the console-script entry point."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from engram.cli.base import ENV_DB, ENV_TENANT, EngramGroup, Settings
from engram.cli.commands import COMMANDS
from engram.cli.demo import demo_command
from engram.cli.importers import import_command
from engram.cli.lifecycle import LIFECYCLE_COMMANDS


def _default_db() -> Path:
    from engram.engine import default_path

    return default_path()


@click.group(cls=EngramGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_DB,
    help=f"The store file. Default: ${ENV_DB}, else engram.db in the user data directory.",
)
@click.option(
    "--tenant",
    default="default",
    show_default=True,
    envvar=ENV_TENANT,
    metavar="NAME",
    help=f"The isolation boundary to work in (also ${ENV_TENANT}).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output on every command.")
@click.version_option(package_name="engram-memory", prog_name="engram")
@click.pass_context
def cli(ctx: click.Context, db: Path | None, tenant: str, as_json: bool) -> None:
    """Engram: long- and short-term memory for LLM agents, in one local SQLite file.

    Start with `engram demo`. Every command takes --json for machine-readable output.

    \b
    Exit codes: 0 ok, 1 internal error, 2 bad input or usage, 3 not found,
    4 store unusable, 5 embedder/LLM provider failed, 6 optional extra missing,
    130 interrupted.

    \b
    Environment:
      ENGRAM_DB        default for --db
      ENGRAM_TENANT    default for --tenant
      ENGRAM_EMBEDDER  'hashing' uses the deterministic test embedder instead of the
                       local model (for tests and offline experiments only)
      ENGRAM_DEBUG     1 shows tracebacks instead of one-line errors
    """
    source = ctx.get_parameter_source("db")
    settings = ctx.obj = Settings(
        db=db if db is not None else _default_db(),
        tenant=tenant,
        json=as_json,
        db_given=source is click.core.ParameterSource.COMMANDLINE,
    )
    ctx.call_on_close(settings.close)


for _command in [*COMMANDS, *LIFECYCLE_COMMANDS, import_command, demo_command]:
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``engram``)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="engram")
