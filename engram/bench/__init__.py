"""Benchmarking Engram on LoCoMo and LongMemEval: metrics reproducing the official scoring.

Loaders for the benchmark files live in :mod:`engram.formats`; the pure metric functions in
:mod:`engram.bench.metrics`.
"""
