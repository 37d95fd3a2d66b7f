"""The fault profile: a CMTS that misbehaves on purpose, so gate controllers' error paths get tested."""

from __future__ import annotations

import random

from cops_core.dqos import GateSet, GateSetErr, PacketCableError

from .config import Exponential, FaultSettings, Fixed, Uniform

# A Keep-Alive whose Length (10) is not a multiple of four: RFC 2748 says the peer must close with Error 3.
MALFORMED_MESSAGE = bytes.fromhex("100900000000000a") + b"\0\0"


class Faults:
    """Decides, per message, what the fault settings make the CMTS do wrong."""

    def __init__(self, settings: FaultSettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._rng = rng or random.Random()

    @property
    def active(self) -> bool:
        return self.settings != FaultSettings()

    def reply_delay(self) -> float:
        delay = self.settings.reply_delay
        if isinstance(delay, (int, float)):
            return float(delay)
        if isinstance(delay, Fixed):
            return delay.fixed
        if isinstance(delay, Uniform):
            return self._rng.uniform(*delay.uniform)
        assert isinstance(delay, Exponential)
        return self._rng.expovariate(1.0 / delay.exponential) if delay.exponential else 0.0

    def rejection(self, command) -> GateSetErr | None:
        """The Gate-Set-Err to answer ``command`` with instead of processing it, if the dice say so."""
        reject = self.settings.reject_gate_set
        if reject is None or type(command) is not GateSet or self._rng.random() >= reject.share:
            return None
        return GateSetErr(command.transaction_id, PacketCableError(reject.code), command.subscriber, command.gate_id)

    @property
    def counts_messages(self) -> bool:
        """Whether a fault acts on the Nth message received (then each one goes through drop_now/malformed_now)."""
        return self.settings.drop_after_messages is not None or self.settings.malformed_after_messages is not None

    def drop_now(self, received: int) -> bool:
        limit = self.settings.drop_after_messages
        return limit is not None and received >= limit

    def malformed_now(self, received: int) -> bool:
        return self.settings.malformed_after_messages == received
