"""Tooling no service imports: the CLI, the demo district, the embedded database, make run and make test."""
