"""Adapters: implementations of the application ports (in-memory, fakes, Mongo, httpx, SAQ)."""
