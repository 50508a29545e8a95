"""The rulebook as one pure package: event models, policy versions, `decide`, `evolve`, standing rules.

Imports nothing of kaohe outside itself and does no I/O (architecture.md, "The rulebook as one
pure package"). Ingest, scoring and reporting call it; none re-states a rule.
"""
