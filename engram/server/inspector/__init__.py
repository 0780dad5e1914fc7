"""The read-only web inspector: what an agent remembers about whom, and why a search found it.

Server-side HTML from Jinja2 templates with autoescaping on (every stored string is escaped),
inline CSS, no JavaScript and no third-party assets; a strict Content-Security-Policy says so
to the browser. See :mod:`engram.server.inspector.pages`.
"""

from engram.server.inspector import runs as _runs  # noqa: F401  (adds the run pages to the router)
from engram.server.inspector.pages import router

__all__ = ["router"]
