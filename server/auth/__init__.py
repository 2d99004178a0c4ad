"""Authentication (API keys, JWT bearer tokens, client certificates) and rate limits.

Transport-neutral: :func:`server.auth.authenticator.Authenticator.authenticate` takes a mapping of
lower-case header names (HTTP headers or gRPC metadata), the peer certificate and the peer address, and
returns an :class:`server.auth.identity.Identity`; :func:`server.access.authorize` decides what that
identity may do. The HTTP glue lives in :mod:`server.middleware`.
"""
