"""Evaluations: each returns a JSON-ready dict with the dataset, sample size and every metric."""
