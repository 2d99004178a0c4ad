"""Processes of a server die with it: a worker or follower whose master was SIGKILLed stops.

gunicorn's workers notice a dead master only between requests (and finish the ones in flight), and
the index follower polls for it; meanwhile they would keep writing to the index and the repository
while a restarted server starts its own. Linux's ``PR_SET_PDEATHSIG`` makes the kernel send a signal
to the child the moment its parent exits (SIGTERM: gunicorn's graceful stop — listeners closed at
once, requests in flight finished — and the follower's stop). Elsewhere this is a no-op and the polling remains.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys

log = logging.getLogger("server.parent_death")
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, signum: int = signal.SIGTERM) -> None:
    """Ask the kernel for ``signum`` when the parent exits; exit now when ``parent_pid`` is already
    gone (the parent died before the request was made, so the signal would never come)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
                log.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))
        except OSError as exc:
            log.warning("cannot ask to die with the parent process: %s", exc)
    if os.getppid() != parent_pid:
        os._exit(0)
