"""The scheduler's lock and run record on the real broker: one holder, and a takeover."""

from __future__ import annotations

from mqwire.runtime.amqp.schedule_lock import BrokerLock


def test_one_holder_at_a_time_and_the_next_takes_over_when_it_goes(fresh_vhost_url: str) -> None:
    first, second = (
        BrokerLock(fresh_vhost_url, "sched.lock"),
        BrokerLock(fresh_vhost_url, "sched.lock"),
    )
    try:
        assert first.try_acquire()
        assert not second.try_acquire()  # 405 RESOURCE_LOCKED: the connection stays usable
        assert second.wait(0.01)
        first.release()  # its connection closes: the broker deletes the exclusive queue
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()


def test_the_run_record_survives_its_holder_and_keeps_only_the_newest(fresh_vhost_url: str) -> None:
    lock = BrokerLock(fresh_vhost_url, "sched.lock")
    try:
        assert lock.try_acquire()
        assert lock.load_state() == {}
        lock.save_state({"a": 1.5})
        lock.save_state({"a": 2.5, "b": 3.0})
        assert lock.load_state() == {"a": 2.5, "b": 3.0}
        assert lock.load_state() == {"a": 2.5, "b": 3.0}  # read, given back, never consumed
    finally:
        lock.release()
    again = BrokerLock(fresh_vhost_url, "sched.lock")
    try:
        assert again.try_acquire()
        assert again.load_state() == {"a": 2.5, "b": 3.0}
    finally:
        again.release()
