"""The HTTP edge: the Litestar app (``entrypoints.api.app.create_app``), its wire schemas and the
problem+json error mapping. The app imports the container, never the reverse (import-linter);
the signature checks it calls live with the vendors' other wire code, in ``adapters/http/``.
"""
