"""When calls start: an open-loop schedule at a rate in calls per second, with an optional ramp.

Open loop, as SIPp places calls: a call starts when the schedule says so,
whether or not earlier calls finished, so a slow peer shows up as latency,
failures and concurrency, not as a quietly lower rate.  Pure arithmetic with
``now`` passed in: the generator asks :meth:`RateSchedule.due` how many calls
are owed by now, and :attr:`RateSchedule.next_due` when to ask again.
"""

from __future__ import annotations

import math

MIN_RATE = 0.01  # calls/s: '/' and '-' stop here rather than at a rate that never places a call


class RateSchedule:
    """Calls owed by time ``now``; the rate ramps from ``start`` by ``step`` every ``interval`` up to ``rate``.

    Without ``start`` the schedule starts at ``rate``.  The first call is due
    at ``now``; call ``n+1`` is due ``1/r`` after call ``n``, where ``r`` is the
    rate in force when call ``n`` was due.
    """

    def __init__(self, rate: float, now: float, *, start: float | None = None, step: float = 0.0,
                 interval: float = 1.0) -> None:
        if rate <= 0 or (start is not None and start <= 0) or step < 0 or interval <= 0:
            raise ValueError("rates and the ramp interval must be positive, the ramp step not negative")
        self.target = rate
        self.current = rate if start is None else min(start, rate)
        self.step = step
        self.interval = interval
        self._next_ramp = now + interval if self.current < rate and step > 0 else math.inf
        # Due times are anchor + n / rate, counted afresh from each rate change: adding 1/rate call after call
        # would drift (a hundred 0.01 s steps do not make 1.0 in floating point).
        self._anchor = now
        self._placed = 0
        self.paused = False
        self.stopped = False
        self._active = 0.0  # seconds spent placing calls before the last pause or stop
        self._since = now  # when placing (re)started

    @property
    def next_due(self) -> float:
        """When the next call is due."""
        return self._anchor + self._placed / self.current

    def due(self, now: float) -> int:
        """How many calls are due by ``now`` (and so start now); 0 while paused or stopped."""
        if self.paused or self.stopped:
            return 0
        count = 0
        while self.next_due <= now:
            count += 1
            self._placed += 1
            while self.next_due >= self._next_ramp:
                self._ramp()
        return count

    def _ramp(self) -> None:
        self._restart(self.next_due, min(self.target, self.current + self.step))
        self._next_ramp = self._next_ramp + self.interval if self.current < self.target else math.inf

    def _restart(self, at: float, rate: float) -> None:
        """From ``at`` on, calls are due every 1/``rate`` seconds."""
        self._anchor, self._placed, self.current = at, 0, rate

    def set_rate(self, rate: float, now: float) -> None:
        """A new rate from ``now`` on (a key press); it also ends any ramp."""
        rate = max(MIN_RATE, rate)
        self.target = rate
        self._next_ramp = math.inf
        self._restart(min(self.next_due, now + 1.0 / rate), rate)

    def active(self, now: float) -> float:
        """Seconds spent placing calls so far, pauses excluded: what a duration counts and a rate divides by."""
        running = 0.0 if self.paused or self.stopped else now - self._since
        return self._active + running

    def pause(self, now: float) -> None:
        if not (self.paused or self.stopped):
            self._active += now - self._since
            self.paused = True

    def stop(self, now: float) -> None:
        """No more calls, for good."""
        if not (self.paused or self.stopped):
            self._active += now - self._since
        self.stopped = True

    def resume(self, now: float) -> None:
        """Start again from ``now``: the calls the pause skipped are not made up in a burst."""
        if not self.paused or self.stopped:
            return
        self.paused = False
        self._since = now
        if self.next_due < now:
            self._restart(now, self.current)
        if self._next_ramp < now:
            self._next_ramp = now + self.interval
