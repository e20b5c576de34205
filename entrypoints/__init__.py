"""Entrypoints: the ways into the service (CLI commands, the HTTP API, the SAQ worker) and what
they share: the container that wires them, the settings and the logging configuration."""
