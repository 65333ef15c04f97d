"""A notebook runner for the tests: nbclient, waiting for kernel messages in short slices.

Why slices. nbclient waits for a cell's ``execute_reply`` with one ``zmq.asyncio`` poll as long
as the cell timeout. That poll can miss the wake-up of a message that arrives while it waits
(zmq's file descriptor is edge-triggered; pyzmq/pyzmq#1558 describes the same symptom): the
reply then sits unread until the poll times out, and pyzmq's last non-blocking poll at the
timeout finds it. In clean-clone CI runs this stalled a ``TrainingMonitor`` cell for exactly the
600-second timeout (kernel and client both idle, py-spy; the test then passed), in about one
run in two. Here every wait is cut into slices of :data:`SLICE_SECONDS`, each ending in that
non-blocking poll, so a missed wake-up costs at most one slice, and each one is counted (a
later clean-clone run counted one in the same notebook: it cost under half a second).
"""

from __future__ import annotations

import asyncio
import time
from queue import Empty
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import Type, default

SLICE_SECONDS = 0.5
"""Longest single wait for a kernel message."""


class SlicedChannel(AsyncZMQSocketChannel):
    """A kernel channel whose ``get_msg`` waits in slices of at most :data:`SLICE_SECONDS`."""

    late_wakeups = 0
    """Messages (over every channel) that were waiting when a slice ran out: missed wake-ups."""

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        """The next message, waiting at most ``timeout`` seconds (None: without limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = SLICE_SECONDS if deadline is None else deadline - time.monotonic()
            wait = max(0.0, min(SLICE_SECONDS, remaining))
            if wait > 0:
                try:
                    ready = await asyncio.wait_for(self.socket.poll(), wait)
                except asyncio.TimeoutError:
                    ready = await self.socket.poll(timeout=0)
                    if ready:  # it arrived during the slice, and the poll did not wake
                        type(self).late_wakeups += 1
            else:
                ready = await self.socket.poll(timeout=0)
            if ready:
                return await super().get_msg(timeout=0)
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty


class SlicedKernelClient(AsyncKernelClient):
    """An asynchronous kernel client that reads the shell and IOPub channels in slices."""

    shell_channel_class = Type(SlicedChannel)
    iopub_channel_class = Type(SlicedChannel)


class SlicedKernelManager(AsyncKernelManager):
    """A kernel manager whose clients are :class:`SlicedKernelClient`."""

    @default("client_factory")
    def _default_client_factory(self) -> type:
        return SlicedKernelClient


def execute_notebook(notebook, *, kernel_name: str, path: str, timeout: int) -> tuple[float, int]:
    """Run every cell of ``notebook`` in place; return (seconds, missed wake-ups).

    Raises nbclient's ``CellExecutionError`` on the first failing cell and
    ``CellTimeoutError`` on a cell that runs longer than ``timeout`` seconds.
    """
    from nbclient import NotebookClient

    client = NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout=timeout,
        kernel_manager_class=SlicedKernelManager,
        resources={"metadata": {"path": path}},
    )
    late_before = SlicedChannel.late_wakeups
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started, SlicedChannel.late_wakeups - late_before
