"""`make bench`: kaohe measured against its own references (raw asyncpg, the eventsourcing library,
a bare FastAPI app) on a fresh database; writes docs/benchmarks.md. See bench/run.py."""
