"""Evaluation: metrics, reports and benchmarks."""
