"""Benchmark workloads that live in their own module; bench/run.py imports and runs them."""
