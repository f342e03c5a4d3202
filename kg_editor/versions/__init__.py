"""Versions: the store (projects, versions, branches, audit), diffs and merges."""
