"""The notebook tests' kernel channel: it waits in slices, so a missed wake-up costs one slice."""

from __future__ import annotations

import asyncio
import time
from queue import Empty

import pytest
import zmq
import zmq.asyncio
from _notebook_client import SLICE_SECONDS, SlicedChannel
from jupyter_client.session import Session


class WakeLessSocket(zmq.asyncio.Socket):
    """A real socket whose waiting poll never wakes (the failure seen in CI); ``poll(0)`` works."""

    def poll(self, timeout=None, flags=zmq.POLLIN):
        if timeout == 0:
            return super().poll(timeout=0, flags=flags)
        return asyncio.get_running_loop().create_future()  # never resolved


def run_with_channel(check, *, wake_less: bool = False):
    """Run ``check(channel, send)`` on a channel reading a real socket pair over TCP."""

    async def main():
        session = Session()
        receiving = zmq.asyncio.Context()
        receiver = receiving.socket(zmq.PAIR, socket_class=WakeLessSocket if wake_less else None)
        port = receiver.bind_to_random_port("tcp://127.0.0.1")
        sender = zmq.Context().socket(zmq.PAIR)
        sender.connect(f"tcp://127.0.0.1:{port}")
        channel = SlicedChannel(receiver, session)
        try:
            await check(channel, lambda content: session.send(sender, "execute_reply", content))
        finally:
            sender.close(linger=0)
            receiver.close(linger=0)

    asyncio.run(main())


def test_a_waiting_message_is_read_at_once():
    async def check(channel, send):
        send({"status": "ok"})
        await asyncio.sleep(0.2)  # the message reaches the receiving socket
        started = time.monotonic()
        message = await channel.get_msg(timeout=600)
        assert message["content"] == {"status": "ok"}
        assert time.monotonic() - started < SLICE_SECONDS

    run_with_channel(check)


def test_the_timeout_is_kept_across_slices():
    async def check(channel, send):
        started = time.monotonic()
        with pytest.raises(Empty):
            await channel.get_msg(timeout=2.5 * SLICE_SECONDS)
        assert 2.5 * SLICE_SECONDS <= time.monotonic() - started < 5 * SLICE_SECONDS

    run_with_channel(check)


def test_a_missed_wake_up_costs_one_slice_and_is_counted():
    async def check(channel, send):
        before = SlicedChannel.late_wakeups
        started = time.monotonic()
        waiting = asyncio.ensure_future(channel.get_msg(timeout=600))
        await asyncio.sleep(0.1)
        send({"status": "ok"})
        message = await asyncio.wait_for(waiting, 10)
        assert message["content"] == {"status": "ok"}
        assert time.monotonic() - started < 2 * SLICE_SECONDS + 0.5
        assert SlicedChannel.late_wakeups == before + 1

    run_with_channel(check, wake_less=True)
