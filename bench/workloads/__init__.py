"""The benchmark workloads, one module each; bench/run.py runs them in turn."""
