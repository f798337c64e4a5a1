"""Benchmarks of Parley, each measured against its baselines in the same run."""
