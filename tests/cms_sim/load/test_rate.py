"""The rate schedule: open loop, exact counts, ramps, rate changes and pauses."""

import pytest

from cms_sim.load.rate import RateSchedule


def calls_by(schedule: RateSchedule, until: float, step: float = 0.01) -> list[tuple[float, int]]:
    """(time, calls due then) every ``step`` seconds up to ``until``."""
    out, now = [], 0.0
    while now <= until + 1e-9:
        out.append((now, schedule.due(now)))
        now = round(now + step, 9)
    return out


def test_a_fixed_rate_places_rate_times_seconds_calls_plus_the_first():
    schedule = RateSchedule(200, 0.0)
    total = sum(count for _, count in calls_by(schedule, 10.0, 0.004))
    assert total == 2001  # calls at 0, 5 ms, ... 10 s


def test_calls_are_due_whether_or_not_anyone_asked_in_between():
    schedule = RateSchedule(100, 0.0)
    assert schedule.due(0.0) == 1
    assert schedule.due(1.0) == 100  # late: the owed calls all start now (open loop)
    assert schedule.next_due == pytest.approx(1.01)


def test_a_ramp_adds_its_step_every_interval_up_to_the_rate():
    schedule = RateSchedule(50, 0.0, start=10, step=10, interval=1.0)
    per_second = [0] * 7
    for now, count in calls_by(schedule, 6.999, 0.001):
        per_second[int(now)] += count
    assert per_second == [10, 20, 30, 40, 50, 50, 50]


def test_set_rate_takes_effect_at_once_and_ends_the_ramp():
    schedule = RateSchedule(100, 0.0, start=1, step=1, interval=1.0)
    assert schedule.due(0.0) == 1
    schedule.set_rate(1000, 0.5)  # the next call was due at 1.0 s; now due by 0.501 s
    assert schedule.due(0.5009) == 0
    assert schedule.due(1.5) == pytest.approx(1000, abs=1)
    assert schedule.current == 1000


def test_a_pause_places_nothing_and_does_not_make_up_for_it():
    schedule = RateSchedule(10, 0.0)
    assert schedule.due(0.95) == 10
    schedule.pause(1.0)
    assert schedule.due(5.0) == 0
    schedule.resume(5.0)
    assert schedule.due(5.0) == 1
    assert schedule.due(5.95) == 9
    assert schedule.active(6.0) == pytest.approx(2.0)  # 0-1 s and 5-6 s: the pause does not count
    schedule.stop(7.0)
    assert schedule.due(100.0) == 0 and schedule.active(100.0) == pytest.approx(3.0)


@pytest.mark.parametrize("arguments", [dict(rate=0), dict(rate=-1), dict(rate=10, start=0), dict(rate=10, step=-1),
                                       dict(rate=10, interval=0)])
def test_nonsense_rates_are_refused(arguments):
    with pytest.raises(ValueError):
        RateSchedule(now=0.0, **arguments)
