"""Test support: the pipeline wired in one process (``testkit.pipeline``) and an ASGI app served on
a loopback port in process, in a thread or in the caller's event loop (``testkit.server``). Used
by the tests, the benchmarks and ``orders-service simulate``; never by the running service."""
