"""Engram inside agent frameworks: thin adapters over :class:`engram.Memory` / :class:`engram.AsyncMemory`.

Each module needs its framework, installed with an extra of ``engram-recall``:

* :mod:`engram.integrations.langgraph`: ``EngramStore``, a LangGraph ``BaseStore``
  (extra ``[langgraph]``);
* :mod:`engram.integrations.langchain`: ``EngramChatMessageHistory``, a LangChain
  ``BaseChatMessageHistory`` (extra ``[langgraph]``);
* :mod:`engram.integrations.openai_agents`: ``EngramSession`` and memory tools for the OpenAI
  Agents SDK (extra ``[openai-agents]``);
* :mod:`engram.integrations.llamaindex`: ``EngramMemoryBlock`` for a LlamaIndex ``Memory``
  (extra ``[llamaindex]``).

The adapters call the public ``Memory`` methods only, never the store; how each framework's
model maps onto Engram's is documented in ``docs/integrations.md``.
"""
