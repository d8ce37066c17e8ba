"""Labelled datasets, runners and metrics for every agent (`siyu eval`), and benchmarks (`siyu bench`)."""
