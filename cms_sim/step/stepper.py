"""The step-through's keys and pauses: ``cms-sim run --step``.

A :class:`Stepper` sits between the run and its ladder.  Before each step
that sends something it draws a pause (:mod:`.view`) and waits for a key;
a message that arrives meanwhile (a keep-alive, a Gate-Close from a timer
that ran out while the class read) is added to the ladder at once.  Keys
come in through :meth:`Stepper.key`, the seam ``cms-sim load`` uses for its
own keys (:func:`cms_sim.load.screen.read_keys` feeds it from the terminal;
tests call it): Enter goes on, ``c`` goes on without pausing again, ``q``
ends the run as Ctrl-C does (finally steps, cleanup, Client-Close, reports).
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable

import trio
from rich.console import Console, Group

from cops_core.trace import TraceRecord

from ..load.screen import raw_keys, read_keys
from ..report.live_ladder import LadderPrinter
from ..scenario import Scenario, ScenarioResult, StepResult
from .preview import Preview, preview
from .view import pause_screen, show

_GO_ON = ("\r", "\n")
_WAKE = ""  # not a key: something arrived while paused, draw the pause again


class Stepper:
    """Pauses a run before each step that sends; ``on_quit`` interrupts the run (``q``).

    :meth:`hooks` are what the run needs from it; its steps still go to the
    ladder's ``step_done``.
    """

    def __init__(self, console: Console, ladder: LadderPrinter, on_quit: Callable[[], None] = lambda: None) -> None:
        self.console = console
        self.ladder = ladder
        self.on_quit = on_quit
        self.stepping = True  # False after c or q: the ladder is then drawn as the run goes, as without --step
        self.quit = False  # q was pressed: the run ends as interrupted (exit 130)
        self.draws = 0  # pauses drawn so far, a pause drawn again for a message counted again (tests wait on it)
        self._keys, self._waiting = trio.open_memory_channel(math.inf)
        self._paused = False
        self._scenario = ""
        ladder.show = False  # each pause draws the ladder whole

    # --- keys and messages, from outside ----------------------------------------------------------------

    def key(self, key: str) -> None:
        """One key from the terminal.  Enter is kept for the next pause if none is under way (typed ahead)."""
        if key == "q" and not self.quit:
            self.quit = True
            self.console.print("quitting: the finally steps and the cleanup run, then Client-Close")
            self.on_quit()  # first: a pause under way then ends cancelled, so its step never sends
            self._stop_pausing()
        elif key == "c" and self.stepping:
            self._stop_pausing()
        elif key in _GO_ON and self.stepping:
            self._keys.send_nowait(key)

    def arrived(self, record: TraceRecord) -> None:
        """A tap on the connection: a message while paused is drawn at once."""
        if self._paused:
            self._keys.send_nowait(_WAKE)

    # --- the run's callbacks (LadderPrinter's, passed on) -----------------------------------------------------

    def hooks(self, *taps) -> dict:
        """:class:`cms_sim.run.Run`'s keywords that make it step through, ``taps`` the run's others (its
        ``on_step`` stays the ladder's)."""
        return {"on_begin": self.begin, "on_end": self.end, "pause": self.pause, "taps": (*taps, self.arrived)}

    def begin(self, result: ScenarioResult, scenario: Scenario) -> None:
        self._scenario = result.name
        self.ladder.begin(result, scenario.source or scenario.name)

    def end(self, result: ScenarioResult) -> None:
        """The scenario is over: while still stepping, its whole ladder is shown one last time, then its end."""
        if not self.stepping:
            self.ladder.end(result)
            return
        show(self.console, Group(*self.ladder.drawn()))
        self.ladder.show = True  # what the end adds (a last Client-Close, the findings) follows on
        self.ladder.end(result)
        self.ladder.show = False

    async def pause(self, runner, step, result: StepResult) -> None:
        """Before ``step`` runs: if it sends something, show it and wait for Enter (or c, or q)."""
        if not self.stepping or runner.interrupted:
            return
        shown = preview(runner, step)
        if shown is None:
            return
        self._paused = True
        try:
            while self.stepping:
                self._draw(result, shown)
                if await self._waiting.receive() in _GO_ON:
                    break
        finally:
            self._paused = False
        if self.quit:
            await trio.lowlevel.checkpoint()  # q while paused: the run's cancellation lands here, before the step

    @contextlib.asynccontextmanager
    async def keys_from_terminal(self):
        """While inside, each key typed comes to :meth:`key`, unechoed: ``cms-sim load``'s terminal mode and
        reader (the terminal is restored after, even on Ctrl-C)."""
        with raw_keys():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_keys, self.key)
                yield
                nursery.cancel_scope.cancel()

    # --- inside ------------------------------------------------------------------------------------------------

    def _draw(self, result: StepResult, shown: Preview) -> None:
        self.ladder.catch_up()
        self.draws += 1
        show(self.console, pause_screen(self.ladder.drawn(), self._scenario, result, shown))

    def _stop_pausing(self) -> None:
        """c or q: no more pauses; the ladder from here on is drawn as the run goes."""
        self.stepping = False
        self.ladder.show = True
        self._keys.send_nowait(_WAKE)

