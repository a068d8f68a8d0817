"""The workers of a state: who they are and their heartbeats in the `workers` table.

Each process that writes the state is a worker, named `host:pid:random` (the random part
tells apart two processes that got the same pid, in two containers with one hostname or one
after the other). The daemon beats its row every `BEAT_EVERY` and after each run; `status`
lists the workers whose last beat is within `ALIVE_WITHIN` and names those that stopped
beating; `health` judges the worker of its own host (a container's HEALTHCHECK: its own
daemon) by the same rule as the heartbeat file (bot/state/heartbeat.py).
"""

from __future__ import annotations

import os
import secrets
import socket


def new_worker_id() -> str:
    """host:pid:random, unique among the workers of a state."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
