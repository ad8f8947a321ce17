"""The run's pool of CPU slots (harness/jobserver.py): a timed step that takes every slot holds them
all while it runs, gives them back after, and leaves nothing behind when the run closes the pool."""

import os
import threading
import time

from harness import jobserver


def tokens_free(path) -> int:
    """How many tokens the pool holds now (read without blocking, then put back)."""
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        try:
            taken = os.read(fd, 16)
        except BlockingIOError:
            return 0
        os.write(fd, taken)
        return len(taken)
    finally:
        os.close(fd)


def test_a_step_that_takes_every_slot_runs_alone_and_gives_them_back(tmp_path):
    pool = jobserver.JobServer(2, parent=tmp_path)
    started, release = threading.Event(), threading.Event()

    def one_slot_step():
        with jobserver.slot(pool.path):
            started.set()
            release.wait(10)

    try:
        with jobserver.slots(pool.path, 2):
            assert tokens_free(pool.path) == 0
            waiter = threading.Thread(target=one_slot_step, daemon=True)
            waiter.start()
            time.sleep(0.5)
            assert not started.is_set()  # a one-slot step waits while every slot is taken
        assert started.wait(10)  # and starts once they are given back
        assert tokens_free(pool.path) == 1
        release.set()
        waiter.join(10)
        assert tokens_free(pool.path) == 2
    finally:
        release.set()
        pool.close()
    assert not pool.folder.exists()  # the lock beside the FIFO is gone with it
