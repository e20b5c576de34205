"""The HTTP edge: the Litestar app (``entrypoints.api.app.create_app``), its wire schemas, the
problem+json error mapping and the payment webhook's signature check.

Nothing is imported here, so that the container can import :mod:`entrypoints.api.signature`
without pulling in the app (which imports the container).
"""
