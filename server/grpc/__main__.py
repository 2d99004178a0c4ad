"""``python -m server.grpc``: the gRPC server process (see :mod:`server.grpc.server`)."""
import sys

from server.grpc.server import main

sys.exit(main())
