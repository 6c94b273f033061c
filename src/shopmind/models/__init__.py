"""Backends: one small class per model, behind a Protocol, chosen by name from a registry.

`models/` knows nothing of products; it maps pixels and strings to arrays and strings.
"""
