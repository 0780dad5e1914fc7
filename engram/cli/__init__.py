"""The ``engram`` command line: a thin layer over :class:`engram.Memory`.

Modules: :mod:`~engram.cli.app` (the group and entry point), :mod:`~engram.cli.base` (settings,
error mapping, option types), :mod:`~engram.cli.commands` (add, search, context, get, list,
delete, export, stats), :mod:`~engram.cli.importers` (import), :mod:`~engram.cli.demo` (demo)
and :mod:`~engram.cli.render` (output).
"""

from engram.cli.app import cli, main

__all__ = ["cli", "main"]
