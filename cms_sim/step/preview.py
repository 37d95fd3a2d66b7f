"""The message a step is about to send, and why each of its fields has the value it has here.

:func:`preview` builds the very DEC the step's gate command will go out in
(the Transaction-ID is the one the controller will take next), or the
Client-Close, or says what the modem is about to do; alongside, one reason
per field: "${gate}: saved by step 1 from its Gate-Alloc-Ack", "the next free
Transaction-ID", "G711-20: (160 B voice + 40 B headers) x 50/s".  Steps that
send nothing (holds, waits, expectations) have no preview: the step-through
does not stop for them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from cops_core import ClientClose, ErrorCode, SyncRequest
from cops_core.dqos import REPLIES, Direction, GateDelete, GateSet, GateSpec, decision_for
from cops_core.dqos.codes import GateDeleteSubcode

from .. import media
from ..report.explain import GATE_COMMANDS, MODEM_ACTIONS, OPCODES
from ..scenario.actions import EVENT_TITLES, build_command
from ..scenario.model import (
    CommitStep,
    DisconnectStep,
    GateCommandStep,
    GateSetStep,
    ReconnectStep,
    ReleaseStep,
    RepeatStep,
    ReserveStep,
    SavingStep,
    SyncStep,
)
from ..scenario.values import Template, resolve
from .fields import HEADER

Why = dict[tuple[str, str], str]
"""(object, field) -> why the field has its value here; a Gate-Spec's object is "Gate-Spec/0" (downstream) or /1."""

_MODEM_STEPS = (ReserveStep, CommitStep, ReleaseStep)
_MODEM_NEXT = {"reserve": "the gate becomes Reserved (no COPS message: the gate controller sees nothing)",
               "commit": "the CMTS commits the gate and sends us Gate-Open",
               "release": "the CMTS closes the gate and sends us Gate-Close (reason 0)"}


class Preview(NamedTuple):
    """What a step is about to do, for the pause before it."""

    action: str  # "we send DEC Gate-Set", "the modem commits gate 0x09ff2b2a"
    summary: str  # what that does in PacketCable
    frame: bytes | None  # the message we send; None when nothing goes from us (the modem acts; TCP just closes)
    why: Why  # per field, why it has its value here
    notes: tuple[str, ...] = ()  # what the message leaves out, and why


def preview(runner, step) -> Preview | None:
    """What ``step`` of ``runner`` (a ScenarioRunner) is about to send, or None if it sends nothing."""
    if isinstance(step, GateCommandStep):
        return _gate_command(runner, step)
    if step.KIND == "cleanup":  # the runner's own Gate-Delete for a gate left up
        return _cleanup(runner, step)
    if isinstance(step, _MODEM_STEPS):
        return _modem(runner, step)
    if isinstance(step, DisconnectStep):
        if not step.disconnect.client_close:
            return Preview("we close TCP without a Client-Close", "The CMTS sees the connection drop.", None, {})
        return Preview("we send Client-Close", OPCODES[ClientClose.OPCODE], ClientClose.new(ErrorCode.SHUTTING_DOWN)
                       .encode(), {("Error", "code"): "the step disconnects on purpose: Shutting down (11)",
                                   (HEADER, "opcode"): "the step ends the COPS session before closing TCP"})
    if isinstance(step, SyncStep):
        return Preview("we send Synchronize State Request", OPCODES[SyncRequest.OPCODE], SyncRequest.new().encode(),
                       {(HEADER, "opcode"): "the step asks the CMTS to send its request state again"})
    if isinstance(step, ReconnectStep):
        return Preview("we dial the CMTS again", "It sends Client-Open; we answer Client-Accept; it sends its Request "
                       "(a new Handle).", None, {})
    return None


# --- gate commands ------------------------------------------------------------------------------------------


def _gate_command(runner, step: GateCommandStep) -> Preview | None:
    try:
        command = build_command(step, runner.variables)
    except ValueError:  # a value the step cannot use: it fails at once, with the reason, when it runs
        return None
    origins = _Origins(runner, step)
    params = step.action
    why: Why = {("Subscriber-ID", "address"): origins.of(params, "subscriber")}
    notes = []
    if getattr(params, "gate_id", None) is not None:
        why[("Gate-ID", "gate_id")] = origins.of(params, "gate_id")
    elif isinstance(step, GateSetStep):
        notes.append("No Gate-ID: the step gives none, so the CMTS allocates a gate and returns its Gate-ID in the "
                     "Gate-Set-Ack (protocol.md 3.4).")
    if getattr(params, "activity_count", None) is not None:
        why[("Activity-Count", "count")] = origins.of(params, "activity_count")
    if getattr(params, "reason", None) is not None:
        why[("PacketCable-Reason", "code")] = "0: the reason of a Gate-Delete"
        why[("PacketCable-Reason", "subcode")] = origins.of(params, "reason")
    if isinstance(step, GateSetStep):
        why.update(_gate_spec_reasons(params, command, origins))
    return _decision(runner, command, why, notes)


def _cleanup(runner, step) -> Preview | None:
    command = GateDelete(0, step.subscriber, step.gate_id)
    why = {("Gate-ID", "gate_id"): "a gate this scenario made and never saw go: the cleanup deletes it so the next "
                                   "scenario starts on a clean CMTS",
           ("Subscriber-ID", "address"): "the subscriber the gate was made for"}
    return _decision(runner, command, why, [])


def _decision(runner, command, why: Why, notes: list[str]) -> Preview:
    """The DEC the controller will send for ``command``, with the Transaction-ID it will take."""
    controller = runner.controller
    title = command.title
    summary = GATE_COMMANDS[command.COMMAND]
    if controller is None or controller.handle is None:
        return Preview(f"we send DEC {title}", summary, None, why,
                       ("No connection to the CMTS: the step will fail.",))
    tid = controller.next_transaction_id()
    number = command.COMMAND
    why[("Transaction-ID", "transaction_id")] = (
        "the next free Transaction-ID of this gate controller; the reply is matched to this request by it"
        + ("" if tid == 1 else f" (TID {tid - 1} went before)"))
    ack, err = REPLIES[number]
    why[("Transaction-ID", "command")] = (
        f"{title} is type {number}: its Ack will be {ack.COMMAND} ({ack.title}), its Err {err.COMMAND} ({err.title}) "
        "(protocol.md 3.2)")
    why[(HEADER, "opcode")] = "a gate command goes from the gate controller to the CMTS in a Decision " \
                              "(protocol.md 3.1)"
    frame = decision_for(controller.handle, command._replace(transaction_id=tid)).encode()
    return Preview(f"we send DEC {title}", summary, frame, why, tuple(notes))


def _gate_spec_reasons(params, command: GateSet, origins: "_Origins") -> Why:
    """Why each Gate-Spec field is what it is: written in the step, or worked out from the media profile."""
    why: Why = {}
    if params.gate_specs is not None:
        for index, spec in enumerate(params.gate_specs):
            direction = command.gate_specs[index].direction
            for name in spec.model_fields:
                why[(f"Gate-Spec/{direction}", name)] = origins.of(spec, name, "gate_specs")
        return why
    profile = media.profile(resolve(params.profile, origins.variables))
    local = origins.of(params, "local_ip") if params.local_ip is not None else \
        "local_ip not given: the MTA's own address, the subscriber"
    remote = origins.of(params, "remote_ip")
    per_direction = {
        Direction.DOWNSTREAM: {"direction": "downstream (0): the far end's media to the MTA; the profile makes one "
                                            "Gate-Spec per direction, downstream first (protocol.md 3.4)",
                               "source_ip": f"the far end sends: {remote}",
                               "destination_ip": f"the MTA receives: {local}",
                               "destination_port": origins.of(params, "local_port")},
        Direction.UPSTREAM: {"direction": "upstream (1): the MTA's media to the far end",
                             "source_ip": f"the MTA sends: {local}",
                             "destination_ip": f"the far end receives: {remote}",
                             "destination_port": origins.of(params, "remote_port")},
    }
    rate = (f"{profile.name} ({origins.of(params, 'profile')}): ({profile.payload_bytes} bytes of voice + "
            f"{media.RTP_UDP_IP_OVERHEAD} of RTP/UDP/IP headers) x {profile.packets_per_second:g} packets/s = "
            f"{profile.rate:g} bytes/s")
    packet = f"one {profile.name} packet: {profile.packet_bytes} bytes"
    common = {
        "protocol": "RTP voice travels in UDP (17)",
        "flags": "0: no Auto-Commit; the modem commits by itself (protocol.md 3.3)",
        "session_class": origins.of(params, "session_class"),
        "source_port": "0 = any: the sender's port is not known in advance",
        "ds_field": "0xB8 = DSCP EF (expedited forwarding), the class for voice",
        "t1": origins.of(params, "t1"), "t7": origins.of(params, "t7"), "t8": origins.of(params, "t8"),
        "token_bucket_rate": rate,
        "token_bucket_size": f"{packet}: a constant-rate codec never bursts more than a packet",
        "peak_data_rate": "= r: constant-rate voice has no peak above its rate",
        "minimum_policed_unit": packet, "maximum_packet_size": packet,
        "rate": "= r: the CMTS reserves what the codec sends",
        "slack_term": f"{GateSpec.DEFAULTS['slack_term']} µs, the Gate-Spec's default slack term",
    }
    for direction, own in per_direction.items():
        for name, text in {**common, **own}.items():
            why[(f"Gate-Spec/{int(direction)}", name)] = text
    return why


# --- the modem ------------------------------------------------------------------------------------------------


def _modem(runner, step) -> Preview | None:
    try:
        gate = resolve(step.action.gate_id, runner.variables)
    except ValueError:
        return None
    refused = " (the step expects the CMTS to refuse)" if step.expect == "refused" else ""
    return Preview(f"the modem {step.KIND}s gate 0x{gate:08x}{refused}",
                   f"{MODEM_ACTIONS[step.KIND]} Then {_MODEM_NEXT[step.KIND]}.", None,
                   {}, (f"Gate-ID: {_Origins(runner, step).of(step.action, 'gate_id')}.",))


# --- where a value comes from ------------------------------------------------------------------------------------


class _Origins:
    """Says where a step's field got its value: written in the step, a variable (whose?), or the default."""

    def __init__(self, runner, step) -> None:
        self.runner, self.step = runner, step
        self.variables: dict[str, Any] = runner.variables

    def of(self, params, field: str, within: str | None = None) -> str:
        value = getattr(params, field)
        where = f"{within}: " if within else ""
        written = field in params.model_fields_set
        if isinstance(value, Template):
            said = f"{where}{field}: {value}" if written else f"{field} not given, so {value}"
            return f"{said}: " + "; ".join(self._variable(name) for name in value.names)
        if written:
            line = f" (line {self.step.line})" if self.step.line else ""
            return f"{where}{field}: {_show(field, value)}, written in the step{line}"
        return f"{field} not given: the default, {_show(field, value)}"

    def _variable(self, name: str) -> str:
        runner = self.runner
        value = _show(name, self.variables.get(name), gate=name in runner.result.gate_variables)
        if name in runner.overrides:
            return f"{value}, given on the command line (--var {name}=...)"
        saver = _saver(runner.scenario, name, self.step.line)
        if saver is not None:
            return f"{value}, saved by step '{saver.name or saver.KIND}' (line {saver.line}) from its {_reply(saver)}"
        if name in runner.scenario.variables:
            return f"{value}, a variable of the scenario (variables:)"
        if name == "iteration":
            return f"{value}: the repeat's count so far"
        return f"{value}: cms-sim run makes one call"


def _show(name: str, value: Any, *, gate: bool = False) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and (gate or name == "gate_id"):
        return f"0x{value:08x}"
    if name == "reason" and isinstance(value, int):
        return f"{value} ({GateDeleteSubcode(value).name.lower()})" if value in GateDeleteSubcode._value2member_map_ \
            else str(value)
    return str(value)


def _reply(step) -> str:
    if isinstance(step, GateCommandStep):
        return f"reply ({step.ack().title})"
    event = step.action.event
    return "event" if isinstance(event, Template) else EVENT_TITLES[event]


def _saver(scenario, name: str, before: int | None):
    """The step that last saves ``name`` above line ``before`` (the last in the file if none is above)."""
    savers = [step for step in _all_steps(scenario.steps + scenario.cleanup)
              if isinstance(step, SavingStep) and name in step.save]
    above = [step for step in savers if before is not None and step.line is not None and step.line < before]
    return (above or savers or [None])[-1]


def _all_steps(steps):
    for step in steps:
        yield step
        if isinstance(step, RepeatStep):
            yield from _all_steps(step.repeat.steps)
