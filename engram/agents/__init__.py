"""Agent memory on the one store: task runs, their working memory, experience and lessons
(:mod:`engram.agents.runs`), and the state of the world an agent observes
(:mod:`engram.agents.world`). :class:`engram.Memory` inherits both halves."""

from engram.agents.run import Run, SubgoalScope
from engram.agents.runs import RunMethods
from engram.agents.world import WorldMethods

__all__ = ["Run", "RunMethods", "SubgoalScope", "WorldMethods"]
