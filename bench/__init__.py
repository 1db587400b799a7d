"""Benchmarks, run with `make bench`; results are kept in docs/benchmarks.md."""
