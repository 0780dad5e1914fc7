"""The read path: analyse the query, retrieve, fuse, assemble the context."""
