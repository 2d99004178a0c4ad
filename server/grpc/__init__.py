"""The gRPC API on 9090 (docs/grpc.md): the service definition's generated stubs (``registry_pb2``,
``registry_pb2_grpc``; regenerate with ``python -m server.grpc.generate``), the servicer
(:mod:`.service`), the server process (:mod:`.server`, ``python -m server.grpc``) and its supervision by
the gunicorn master (:mod:`.process`)."""
