"""What a scenario step means, apart from how it is awaited: the one place both engines take it from.

``cms-sim run`` awaits one call's steps in a task (:mod:`.runner`);
``cms-sim load`` drives thousands of calls as state machines
(:mod:`cms_sim.load.calls`).  Both build gate commands, judge replies and
events, and sample hold times with these functions, so a step passes or
fails for the same reason in either.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Mapping

from cops_core.dqos import (
    REPLIES,
    GateAlloc,
    GateCloseSubcode,
    GateDelete,
    GateInfo,
    GateSet,
    GateSpec,
    PacketCableErrorCode,
    PacketCableReason,
    PacketCableReasonCode,
)

from .. import media
from ..controller import as_address
from ..errors import ControllerError, GateError, RequestTimeout
from ..events import GateClosed
from . import replies
from .model import (
    Exponential,
    ExpectError,
    GateAllocStep,
    GateCommandStep,
    GateDeleteStep,
    GateInfoStep,
    GateSetParams,
    GateSetStep,
    Normal,
    Uniform,
)
from .values import Template, resolve

REQUEST_CLASS = {GateAllocStep: GateAlloc, GateSetStep: GateSet, GateInfoStep: GateInfo, GateDeleteStep: GateDelete}
EVENT_TITLES = {"gate_open": "Gate-Open", "gate_close": "Gate-Close", "connected": "connection up",
                "connection_lost": "connection loss", "request_state_deleted": "DRQ"}


class StepFailed(Exception):
    """The step ran but its expectation was not met.

    The text says how, for one call's report; ``cause`` is the short form
    that thousands of failing calls are counted under (no Gate-IDs or
    timings in it).
    """

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause or message


def build_command(step: GateCommandStep, variables: dict[str, Any]):
    """The gate command ``step`` sends (TID 0: the controller assigns one); ValueError for a bad value."""
    return command_builder(step)(variables)


def command_builder(step: GateCommandStep, constants: Mapping[str, Any] | None = None
                    ) -> Callable[[dict[str, Any]], Any]:
    """``variables -> command`` for ``step``, with every field that holds no ``${var}`` worked out once.

    ``cms-sim load`` builds one per step and calls it for every call, so
    per call only the templates are resolved (and the Gate-Specs made).
    ``constants`` are variables that have the same value in every call (see
    :func:`fold`): templates that use only those are worked out once too.
    """
    params = step.action
    subscriber = _getter(params.subscriber, constants)
    if isinstance(step, GateAllocStep):
        count = _getter(params.activity_count, constants)
        return lambda variables: GateAlloc(0, as_address(subscriber(variables)), count(variables))
    if isinstance(step, GateInfoStep):
        gate = _getter(params.gate_id, constants)
        return lambda variables: GateInfo(0, as_address(subscriber(variables)), gate(variables))
    if isinstance(step, GateDeleteStep):
        gate, subcode = _getter(params.gate_id, constants), _getter(params.reason, constants)

        def delete(variables):
            code = subcode(variables)
            reason = None if code is None else PacketCableReason(PacketCableReasonCode.GATE_DELETE, code)
            return GateDelete(0, as_address(subscriber(variables)), gate(variables), reason)
        return delete
    gate, count = _getter(params.gate_id, constants), _getter(params.activity_count, constants)
    specs = _specs_builder(params, constants)

    def gate_set(variables):
        address = as_address(subscriber(variables))
        return GateSet(0, address, specs(variables, address), gate(variables), count(variables))
    return gate_set


def fold(value: Any, constants: Mapping[str, Any] | None) -> Any:
    """``value`` with a template that uses only ``constants`` resolved now; a literal, or the template still to resolve.

    ``constants`` must hold the value each such variable has in every call.
    A template they cannot resolve stays a template: each call then fails at
    its step with the error it would have had anyway.
    """
    if constants and isinstance(value, Template) and all(name in constants for name in value.names):
        try:
            return value.resolve(constants)
        except ValueError:
            return value
    return value


def _getter(value: Any, constants: Mapping[str, Any] | None = None) -> Callable[[dict[str, Any]], Any]:
    """``variables -> value``: a template's resolution, or the literal itself."""
    value = fold(value, constants)
    if isinstance(value, Template):
        return value.resolve
    return lambda variables: value


_PROFILE_FIELDS = ("profile", "local_ip", "remote_ip", "local_port", "remote_port", "t1", "t7", "t8", "session_class")


def _specs_builder(params: GateSetParams, constants: Mapping[str, Any] | None = None
                   ) -> Callable[[dict[str, Any], Any], tuple[GateSpec, ...]]:
    """``(variables, subscriber) -> Gate-Specs``; a profile whose settings are known now is worked out once."""
    fields = {name: fold(getattr(params, name), constants) for name in _PROFILE_FIELDS}
    general = lambda variables, subscriber: gate_specs(params, variables, subscriber)  # noqa: E731
    if params.gate_specs is not None or any(isinstance(value, Template) for value in fields.values()):
        return general
    options = {name: fields[name] for name in ("local_port", "remote_port", "t1", "t7", "t8", "session_class")}
    try:
        specs_for = media.profile(fields["profile"]).gate_specs_for(fields["remote_ip"], **options)
    except (KeyError, ValueError):  # every call fails here: let it, the way it would
        return general
    local = fields["local_ip"]
    return lambda variables, subscriber: specs_for(local or subscriber)


def gate_specs(params: GateSetParams, variables: dict[str, Any], subscriber) -> tuple[GateSpec, ...]:
    """A Gate-Set's Gate-Specs: written out field by field, or from a media profile."""
    if params.gate_specs is not None:
        return tuple(GateSpec(**{name: resolve(getattr(spec, name), variables) for name in GateSpec._fields})
                     for spec in params.gate_specs)
    profile = media.profile(resolve(params.profile, variables))
    local_ip = resolve(params.local_ip, variables) or subscriber
    return profile.gate_specs(
        local_ip, resolve(params.remote_ip, variables),
        local_port=resolve(params.local_port, variables), remote_port=resolve(params.remote_port, variables),
        t1=resolve(params.t1, variables), t7=resolve(params.t7, variables), t8=resolve(params.t8, variables),
        session_class=resolve(params.session_class, variables))


def judge_reply(step: GateCommandStep, reply, error: ControllerError | None, latency: float,
                variables: dict[str, Any]) -> str:
    """Check a gate command's outcome against the step; save what it asks; return what came back.

    ``reply`` is the Ack or Err (None if none came), ``error`` the
    controller's exception (None for an Ack).  Raises :class:`StepFailed`.
    """
    request = REQUEST_CLASS[type(step)]
    got = str(error) if error is not None else reply.title
    title = step.name or step.KIND
    expect = step.expect
    if expect == "ack" and error is not None:
        raise StepFailed(f"expected {REPLIES[request.COMMAND].ack.title}, got {got}", failure_cause(error, step))
    if expect == "timeout" and not isinstance(error, RequestTimeout):
        raise StepFailed(f"expected no reply, got {got}", f"{title}: expected no reply, got one")
    if isinstance(expect, ExpectError):
        code, subcode = resolve(expect.error, variables), resolve(expect.subcode, variables)
        wanted = code_name(PacketCableErrorCode, code) + (f" sub-code 0x{subcode:04x}" if subcode is not None else "")
        if not isinstance(error, GateError) or error.code != code or (
                subcode is not None and error.subcode != subcode):
            raise StepFailed(f"expected {REPLIES[request.COMMAND].err.title} {wanted}, got {got}",
                             f"{title}: expected {wanted}, got " + (
                                 failure_cause(error, step) if error is not None else reply.title))
    if step.reply is not None and error is None:
        wrong = replies.mismatches(step.reply, reply, variables)
        if wrong:
            raise StepFailed(f"{got}: " + "; ".join(wrong),
                             f"{title}: {got} " + ", ".join(problem.split(" ", 1)[0] for problem in wrong))
    within = resolve(step.within, variables)
    if within is not None and latency > within:
        raise StepFailed(f"{got} after {latency * 1000:.1f} ms, expected within {within * 1000:g} ms",
                         f"{title}: slower than {within * 1000:g} ms")
    if step.save:
        fields = reply._asdict() if reply is not None else {}
        if isinstance(error, GateError):
            fields.update(error_code=error.code, error_subcode=error.subcode)
        save(step.save, fields, got, variables)
    return got


# A gate-command step's fields that say nothing about its reply.  Any other field set away from its default counts
# as an expectation in judges_acks, so one added to the model later is judged, never skipped.
_NOT_EXPECTATIONS = frozenset({"name", "timeout"})


def judges_acks(step: GateCommandStep) -> bool:
    """False when :func:`judge_reply` passes every Ack of ``step`` without looking: it expects one, with no
    ``within``, nothing to save and nothing else set.  ``cms-sim load`` then skips judging its Acks."""
    return bool(step.save) or not _only_saves(step)


def saves_only(step: GateCommandStep) -> bool:
    """True when all :func:`judge_reply` does with an Ack of ``step`` is ``save:`` (a Gate-Alloc keeping its
    Gate-ID): ``cms-sim load`` then judges its Acks with :func:`save_from_ack`."""
    return bool(step.save) and _only_saves(step)


def _only_saves(step: GateCommandStep) -> bool:
    """``step`` expects an Ack, with no ``within``, no ``reply`` and nothing else set: at most it saves."""
    if step.expect != "ack" or step.within is not None or step.reply is not None:
        return False
    return not any(getattr(step, name) != field.get_default(call_default_factory=True)
                   for name, field in type(step).model_fields.items()
                   if name not in _NOT_EXPECTATIONS and name not in (step.KIND, "expect", "within", "save"))


def save_from_ack(step: GateCommandStep, reply, variables: dict[str, Any]) -> None:
    """:func:`judge_reply` of an Ack for a step that :func:`saves_only`: the same variables set, the same StepFailed,
    without the Ack made into a dict first."""
    fields = reply._fields
    for name, field in step.save.items():
        value = getattr(reply, field) if field in fields else None
        if value is None:
            raise StepFailed(f"cannot save {field} into ${{{name}}}: {reply.title} has none", f"cannot save {field}")
        variables[name] = value


def failure_cause(error: ControllerError, step) -> str:
    """A controller error as a countable cause: the Err by code name, a timeout by step, connection loss."""
    if isinstance(error, GateError):
        return f"{error.reply.title}: {code_name(PacketCableErrorCode, error.code)}"
    if isinstance(error, RequestTimeout):
        return f"timeout: {step.name or step.KIND}"
    cause = getattr(error, "cause", None)
    return cause or type(error).__name__


def judge_event(params, event, variables: dict[str, Any], step_title: str, title: str | None = None) -> str:
    """Check an awaited event (``title``: "Gate-Close") against ``expect_event``'s reason; return its description."""
    title = title or EVENT_TITLES[params.event]
    check_event(params, event, variables, step_title, title)
    detail = f" gate 0x{event.gate_id:08x}" if hasattr(event, "gate_id") else ""
    if type(event) is GateClosed and event.reason is not None:
        detail += f" ({code_name(GateCloseSubcode, event.reason)})"
    return f"{title}{detail}"


def check_event(params, event, variables: dict[str, Any], step_title: str, title: str | None = None) -> None:
    """:func:`judge_event` without the description (``cms-sim load`` has no use for it, thousands of times a second)."""
    reason = resolve(params.reason, variables)
    if reason is not None and event.reason != reason:
        title = title or EVENT_TITLES[params.event]
        raise StepFailed(f"{title} for gate 0x{event.gate_id:08x} with reason "
                         f"{code_name(GateCloseSubcode, event.reason)}, expected {code_name(GateCloseSubcode, reason)}",
                         f"{step_title}: {title} reason {code_name(GateCloseSubcode, event.reason)}")


def sample_hold(hold, variables: dict[str, Any], rng: random.Random) -> float:
    """Seconds to hold: a fixed duration, or a sample of the step's distribution (capped at its ``max``)."""
    if isinstance(hold, Uniform):
        return rng.uniform(resolve(hold.min, variables), resolve(hold.max, variables))
    if isinstance(hold, Exponential):
        seconds = rng.expovariate(1 / resolve(hold.mean, variables))
    elif isinstance(hold, Normal):
        seconds = max(0.0, rng.gauss(resolve(hold.mean, variables), resolve(hold.stddev, variables)))
    else:
        return resolve(hold, variables)
    cap = resolve(hold.max, variables)
    return seconds if cap is None else min(seconds, cap)


def save(names: dict[str, str], fields: dict[str, Any], got: str, variables: dict[str, Any]) -> None:
    """``save: {variable: field}``: copy each field into ``variables``; StepFailed if the field is absent."""
    for name, field in names.items():
        value = fields.get(field)
        if value is None:
            raise StepFailed(f"cannot save {field} into ${{{name}}}: {got} has none", f"cannot save {field}")
        variables[name] = value


def code_name(enum: type, value: int) -> str:
    try:
        return f"{enum(value).name.lower()} ({value})"
    except ValueError:
        return str(value)
