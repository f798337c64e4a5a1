"""Baselines the benchmarks measure Parley against, in the same run."""
