"""Pure text analysis for the write path: time expressions, key phrases, entities, salience.

Every function here is deterministic, does no I/O and runs in well under a millisecond per
chat message, because it runs on every message Engram stores.
"""
