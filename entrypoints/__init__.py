"""Entrypoints: the CLI, the HTTP app, the worker, the sandbox and the simulator."""
