"""The CLI's plumbing: settings, the one place errors become exit codes, shared option types.

Errors are mapped once, in :meth:`EngramGroup.main`:

* an :class:`~engram.errors.EngramError` prints ``error: <message>`` and exits with the
  error's ``exit_code`` (validation 2, not found 3, store 4, provider 5, missing extra 6);
* a click usage error prints ``error: <message>`` and exits 2 (click's code);
* Ctrl-C prints ``interrupted`` and exits 130;
* anything else prints ``internal error: <type>: <message>`` and exits 1.

Every error is one line on stderr; ``ENGRAM_DEBUG=1`` re-raises for a traceback instead.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engram.build import build_memory, close_memory, store_path, with_next_step
from engram.errors import EngramError, MissingDependencyError, ValidationError
from engram.model.timeutil import parse_timestamp
from engram.settings import EngramSettings, load_settings

if TYPE_CHECKING:
    from engram.engine import Memory

#: Environment variables the CLI reads itself; every other ``ENGRAM_*`` variable is a setting
#: (:class:`engram.settings.EngramSettings`), read once when a command needs the store.
ENV_DB = "ENGRAM_DB"
ENV_TENANT = "ENGRAM_TENANT"
ENV_EMBEDDER = "ENGRAM_EMBEDDER"
ENV_DEBUG = "ENGRAM_DEBUG"

#: Sub-commands that live in other modules, imported only when used:
#: name → (module, attribute, the pip extra its third-party dependencies come with).
LAZY_COMMANDS = {
    "bench": ("engram.bench.cli", "bench", "bench"),
    "serve": ("engram.server.cli", "serve_command", "server"),
    "mcp": ("engram.server.cli", "mcp_command", "mcp"),
    "keys": ("engram.server.cli", "keys_group", "server"),
}


def debug_enabled() -> bool:
    """True when ``ENGRAM_DEBUG`` asks for tracebacks."""
    return os.environ.get(ENV_DEBUG, "").strip().lower() not in ("", "0", "false", "no")


def make_memory(settings: EngramSettings, *, create: bool) -> Memory:
    """Build the :class:`engram.Memory` a command works on (tests replace this to inject one)."""
    return build_memory(settings, create=create)


@dataclass
class Settings:
    """What the global options chose; reads the settings and opens the store on first use.

    Attributes:
        explicit: the global options given on the command line (``db``, ``tenant``,
            ``config_file``); they win over the environment and the settings file.
        json: print JSON.
    """

    explicit: dict[str, Any] = field(default_factory=dict)
    json: bool = False
    _settings: EngramSettings | None = field(default=None, repr=False)
    _memory: Memory | None = field(default=None, repr=False)

    @property
    def db_given(self) -> bool:
        """Whether ``--db`` was given on the command line."""
        return self.explicit.get("db") is not None

    @property
    def settings(self) -> EngramSettings:
        """The settings: command line, then ``ENGRAM_*``, then the settings file, then defaults."""
        if self._settings is None:
            self._settings = load_settings(**self.explicit)
        return self._settings

    @property
    def db(self) -> Path | str:
        """The store the settings name: a file, or a ``postgresql://`` URL."""
        return store_path(self.settings)

    @property
    def tenant(self) -> str:
        """The tenant the settings name."""
        return self.settings.tenant

    def use_db(self, path: Path | str) -> None:
        """Work on ``path`` instead (before the store is opened)."""
        self.explicit["db"] = path
        self._settings = None

    def memory(self, *, create: bool = False) -> Memory:
        """The :class:`engram.Memory` on the store (opened once).

        Args:
            create: create the store when there is none (writes: add, import, demo). Reads
                leave ``False``: a missing store is a :class:`~engram.errors.StoreNotFoundError`
                (exit 4) and nothing, not even a folder, is created.
        """
        if self._memory is None:
            self._memory = make_memory(self.settings, create=create)
        return self._memory

    def close(self) -> None:
        """Close the store (and the LLM's connections) if they were opened."""
        if self._memory is not None:
            close_memory(self._memory)
            self._memory = None


pass_settings = click.make_pass_decorator(Settings)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        settings = ctx.find_object(Settings)
        if settings is not None:
            settings.json = True


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--json`` on a sub-command, the same as the global ``--json``."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Print machine-readable JSON (same as the global --json).",
    )(command)


class Timestamp(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """An ISO 8601 date-time (``2024-05-08``, ``2024-05-08T13:56:00Z``) or Unix seconds."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            raw: str | float = float(text) if text.replace(".", "", 1).isdigit() else text
            return parse_timestamp(raw, "time")
        except ValidationError as exc:
            self.fail(str(exc).removeprefix("time "), param, ctx)


TIMESTAMP = Timestamp()


#: Raised by click >= 8.2 for a group run without a command; shown as help, not as an error.
_NO_ARGS_IS_HELP: type[click.ClickException] = getattr(
    click.exceptions, "NoArgsIsHelpError", type("_NeverRaised", (click.ClickException,), {})
)


class EngramGroup(click.Group):
    """A click group that maps errors to exit codes in one place and loads some commands lazily."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(name for name in LAZY_COMMANDS if _module_exists(LAZY_COMMANDS[name][0]))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            command = _load_lazy(cmd_name, *LAZY_COMMANDS[cmd_name])
        return command

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the CLI; every failure becomes one line on stderr and an exit code."""
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except _NO_ARGS_IS_HELP as exc:
            code = exc.exit_code  # `engram` alone, or a group without a command: show its help
            exc.show()
        except click.ClickException as exc:
            code = exc.exit_code
            _fail(_usage_message(exc))
        except click.Abort as exc:
            interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
            code = 130 if interrupted else 1
            _fail("interrupted" if interrupted else "aborted")
        except KeyboardInterrupt:
            code = 130
            _fail("interrupted")
        except EngramError as exc:
            if debug_enabled():
                raise
            code = exc.exit_code
            _fail(f"error: {with_next_step(exc)}")
        except Exception as exc:
            if debug_enabled():
                raise
            code = 1
            _fail(f"internal error: {type(exc).__name__}: {exc} (run with {ENV_DEBUG}=1 for a traceback)")
        if standalone_mode:
            sys.exit(code)
        return code


def _fail(line: str) -> None:
    click.echo(" ".join(line.split()), err=True)


def _usage_message(exc: click.ClickException) -> str:
    message = f"error: {exc.format_message()}"
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
    except Exception:
        return True  # the package is there but broken: list it, and report when it is run


def _load_lazy(name: str, module: str, attribute: str, extra: str) -> click.Command | None:
    """Import a lazily registered command; a broken module yields a command that reports it.

    A missing module of the command itself hides the command; a missing third-party package
    becomes a :class:`MissingDependencyError` naming the extra; any other failure is reported
    as an internal error when the command is run, never when another command is.
    """
    problem: BaseException
    try:
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attribute} is not a click command")
        return command
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module == missing or module.startswith(missing + "."):
            return None  # not part of this build: click reports "No such command"
        third_party = missing.split(".")[0] not in ("", "engram")
        problem = MissingDependencyError(f"engram {name}", extra, missing) if third_party else exc
    except Exception as exc:
        problem = exc

    @click.command(
        name,
        help=f"Unavailable: {module} failed to load ({type(problem).__name__}).",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def unavailable() -> None:
        raise problem

    return unavailable


@contextlib.contextmanager
def progress(total: int | None, label: str, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar with ETA on stderr; yields ``update(n)``. Silent when not enabled or no TTY."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _n: None
        return
    bar: Any = click.progressbar(
        length=total, label=label, file=sys.stderr, show_eta=True, show_pos=True, width=30
    )
    with bar:
        yield bar.update


class StoreOption(click.ParamType):  # type: ignore[type-arg]
    """``--db``: an SQLite file path, or a ``postgresql://`` URL (kept as written)."""

    name = "PATH|URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path | str:
        from engram.store.opening import as_target, is_store_url

        if is_store_url(value) or isinstance(value, Path):
            return value  # type: ignore[no-any-return]
        if os.path.isdir(str(value)):
            self.fail(f"{value} is a folder; give the path of a store file (or a postgresql:// URL)", param, ctx)
        return as_target(value)
