"""The scenario file format, as pydantic models: the single source of the loader's checks and the JSON Schema.

A scenario is a name, a description of what it teaches or tests, variables
with defaults, settings for the gate controller and for the embedded CMTS,
and a list of steps.  Each step is a mapping with exactly one action key
(``gate_set: {...}``, ``commit: ${gate}``, ``hold: 2s`` ...) plus that
action's modifiers (``expect``, ``save``, ``within``, ``name``).
``disconnect``, ``reconnect`` and ``sync`` may be written bare.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cmts_sim.config import CapacitySettings, CmtsConfig, FaultSettings, ModemSettings, PolicySettings, TimerSettings
from cops_core.dqos import (
    REPLIES,
    GateAlloc,
    GateCloseSubcode,
    GateDelete,
    GateDeleteSubcode,
    GateInfo,
    GateSet,
    GateSpec,
    PacketCableErrorCode,
)
from cops_core.fields import REQUIRED

from .. import media
from ..events import EVENT_KINDS
from . import replies, values
from .values import (
    DURATION,
    IP_ADDRESS,
    IPV4_ADDRESS,
    REPEAT_COUNT,
    UINT8,
    UINT16,
    UINT32,
    FieldType,
    Template,
    named_code,
)

BUILTIN_VARIABLES: dict[str, int] = {"call": 1}
"""Variables every scenario has: ``${call}`` numbers the calls of ``cms-sim load`` (1 in ``cms-sim run``)."""

TAGS: set[str] = set()
"""Union tags: they appear in pydantic error locations but never in a file, so the loader skips them."""


def _tag(name: str) -> Tag:
    tag = f"<{name}>"
    TAGS.add(tag)
    return Tag(tag)


def _profile(value: Any) -> str:
    try:
        return media.profile(value).name
    except (KeyError, AttributeError):
        raise ValueError(value) from None


def _scalar(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(value)


PROFILE = FieldType(f"a media profile ({', '.join(media.PROFILES)})", _profile,
                    {"type": "string", "examples": list(media.PROFILES)})
ERROR_CODE = named_code(PacketCableErrorCode, "a PacketCable error")
CLOSE_REASON = named_code(GateCloseSubcode, "a Gate-Close reason")
DELETE_REASON = named_code(GateDeleteSubcode, "a Gate-Delete reason")
SCALAR = FieldType("a string, number or boolean", _scalar, {"type": ["string", "number", "boolean"]})


def _event(value: Any) -> str:
    if value not in EVENT_KINDS:
        raise ValueError(value)
    return value


EVENT = FieldType(f"an event ({', '.join(EVENT_KINDS)})", _event, {"type": "string", "enum": list(EVENT_KINDS)})
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"

Duration = DURATION.templated
Address = IP_ADDRESS.templated
IPv4 = IPV4_ADDRESS.templated
Int32 = UINT32.templated
Port = UINT16.templated


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- gate commands --------------------------------------------------------------------------------


def _subscriber_field():
    return Field(IP_ADDRESS.template("${subscriber}"), description="the MTA's address; default ${subscriber}")


class GateAllocParams(_Model):
    subscriber: Address = _subscriber_field()
    activity_count: Int32 | None = Field(None, description="the subscriber's gate limit")


def _declared_params(cls: type, name: str, doc: str) -> type[_Model]:
    """The parameters of a wire object, field by field, from its declarations: names, types, defaults, and the
    label and unit as each field's description.  A field without a declared default is required."""
    fields: dict[str, Any] = {}
    for field in cls.FIELDS:
        if field.reserved:
            continue
        description = field.label + (f", {field.unit}" if field.unit else "")
        default = ... if field.default is REQUIRED else field.default
        fields[field.name] = (values.declared(field).templated, Field(default, description=description))
    return create_model(name, __base__=_Model, __doc__=doc, __module__=__name__, **fields)


GateSpecParams = _declared_params(GateSpec, "GateSpecParams", "One Gate-Spec written out field by field.")


class GateSetParams(_Model):
    """A Gate-Set from a media ``profile`` (plus addresses and ports) or from explicit ``gate_specs``."""

    subscriber: Address = _subscriber_field()
    gate_id: Int32 | None = Field(None, description="modify this gate; omitted: the CMTS allocates one")
    activity_count: Int32 | None = None
    profile: PROFILE.templated | None = None
    local_ip: IPv4 | None = Field(None, description="the MTA's media address; default: the subscriber")
    remote_ip: IPv4 | None = Field(None, description="the far end's media address (needed with profile)")
    local_port: Port = media.DEFAULT_RTP_PORT
    remote_port: Port = media.DEFAULT_RTP_PORT
    t1: Port = media.DEFAULT_T1
    t7: Port = media.DEFAULT_T7
    t8: Port = media.DEFAULT_T8
    session_class: UINT8.templated = 1
    gate_specs: list[GateSpecParams] | None = Field(
        None, max_length=2, description="one Gate-Spec per direction; [] sends none (a malformed Gate-Set)")

    @model_validator(mode="after")
    def _one_source(self) -> "GateSetParams":
        if (self.profile is None) == (self.gate_specs is None):
            raise ValueError("give either profile or gate_specs")
        if self.profile is not None and self.remote_ip is None:
            raise ValueError("a profile needs remote_ip, the far end's media address")
        return self


class GateInfoParams(_Model):
    subscriber: Address = _subscriber_field()
    gate_id: Int32


class GateDeleteParams(_Model):
    subscriber: Address = _subscriber_field()
    gate_id: Int32
    reason: DELETE_REASON.templated | None = Field(None, description="PacketCable-Reason sub-code (code 0)")


class ExpectError(_Model):
    """The CMTS must answer with a ``*-Err`` carrying this PacketCable-Error (and sub-code, if given)."""

    error: ERROR_CODE.templated
    subcode: UINT16.templated | None = None


Expect = Annotated[
    Union[Annotated[Literal["ack", "timeout"], _tag("word")], Annotated[ExpectError, _tag("error")]],
    Discriminator(lambda v: "<error>" if isinstance(v, (dict, ExpectError)) else "<word>"),
]

class Step(_Model):
    """What every step has: an optional label for reports, and its line in the file."""

    KIND: ClassVar[str]
    name: str | None = Field(None, description="label for reports")
    continue_on_failure: bool = Field(False, description="if it fails, run the next steps anyway "
                                                         "(the scenario still fails)")
    _line: int | None = PrivateAttr(None)

    @property
    def line(self) -> int | None:
        return self._line

    @property
    def action(self) -> Any:
        """The value under the step's action key."""
        return getattr(self, self.KIND)


class SavingStep(Step):
    """A step whose outcome has fields that ``save: {variable: field}`` keeps for later steps."""

    SAVABLE: ClassVar[tuple[str, ...]]
    save: dict[str, str] = Field(default_factory=dict, description="{variable: field}, e.g. {gate: gate_id}")

    @field_validator("save")
    @classmethod
    def _check_save(cls, save: dict[str, str]) -> dict[str, str]:
        for name, field in save.items():
            if not name.isidentifier():
                raise PydanticCustomError("save", "variable name '{name}' is not an identifier", {"name": name})
            if field not in cls.SAVABLE:
                raise PydanticCustomError("save", "cannot save '{field}'; expected one of: {fields}",
                                          {"field": field, "fields": ", ".join(cls.SAVABLE)})
        return save


class GateCommandStep(SavingStep):
    SAVABLE = ("gate_id", "activity_count", "transaction_id", "subscriber", "error_code", "error_subcode")
    REQUEST: ClassVar[type]  # the gate command it sends
    expect: Expect = Field("ack", description="ack, timeout, or {error: CODE-or-name, subcode: N}")
    within: Duration | None = Field(None, description="the reply must come within this (e.g. 50ms)")
    timeout: Duration | None = Field(None, description="request timeout; default the controller's")
    reply: dict[str, Any] | None = Field(
        None, description="fields the Ack must carry, e.g. {gate_id: ${gate}, gate_specs: [{token_bucket_rate: "
                          "3000}]}; only those written are compared")

    @classmethod
    def ack(cls) -> type:
        return REPLIES[cls.REQUEST.COMMAND].ack

    @field_validator("reply")
    @classmethod
    def _check_reply(cls, expected: dict[str, Any] | None) -> dict[str, Any] | None:
        if expected is None:
            return None
        problem = replies.check_names(expected, cls.ack())
        if problem is not None:
            raise PydanticCustomError("reply", "{problem}", {"problem": problem})
        return replies.templated(expected)


class GateAllocStep(GateCommandStep):
    KIND = "gate_alloc"
    REQUEST = GateAlloc
    gate_alloc: GateAllocParams


class GateSetStep(GateCommandStep):
    KIND = "gate_set"
    REQUEST = GateSet
    gate_set: GateSetParams


class GateInfoStep(GateCommandStep):
    KIND = "gate_info"
    REQUEST = GateInfo
    gate_info: GateInfoParams


class GateDeleteStep(GateCommandStep):
    KIND = "gate_delete"
    REQUEST = GateDelete
    gate_delete: GateDeleteParams


# --- the modem ---------------------------------------------------------------------------------------


class ModemParams(_Model):
    """A modem action on a gate; ``commit: ${gate}`` is short for ``commit: {gate_id: ${gate}}``."""

    gate_id: Int32
    timeout: Duration | None = Field(None, description="real gear: how long to wait for the Gate-Open/Gate-Close")


ModemAction = Annotated[
    ModemParams,
    BeforeValidator(lambda v: v if isinstance(v, (dict, ModemParams)) else {"gate_id": v},
                    json_schema_input_type=Union[ModemParams, Int32]),
]


class ModemStep(Step):
    expect: Literal["ok", "refused"] = Field("ok", description="refused: the CMTS must refuse the action")


class ReserveStep(ModemStep):
    KIND = "reserve"
    reserve: ModemAction


class CommitStep(ModemStep):
    KIND = "commit"
    commit: ModemAction


class ReleaseStep(ModemStep):
    KIND = "release"
    release: ModemAction


# --- events, time, connection ------------------------------------------------------------------------------


class EventParams(_Model):
    event: EVENT.templated
    gate_id: Int32 | None = Field(None, description="only an event for this gate")
    reason: CLOSE_REASON.templated | None = Field(None, description="gate_close: the PacketCable-Reason sub-code")
    timeout: Duration = Field(5.0, description="how long to wait")


class ExpectEventStep(SavingStep):
    KIND = "expect_event"
    SAVABLE = ("gate_id", "reason", "pep_id")
    expect_event: EventParams


class NoEventParams(_Model):
    event: EVENT.templated
    gate_id: Int32 | None = Field(None, description="only an event for this gate")
    window: Duration = Field(description="how long none must come, e.g. 5s")


class ExpectNoEventStep(Step):
    """Passes when no such event comes for ``window``; fails the moment one does."""

    KIND = "expect_no_event"
    expect_no_event: NoEventParams


class Uniform(_Model):
    distribution: Literal["uniform"]
    min: Duration
    max: Duration

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if not isinstance(self.min, Template) and not isinstance(self.max, Template) and self.min > self.max:
            raise ValueError(f"min ({self.min:g} s) is more than max ({self.max:g} s)")
        return self


class Exponential(_Model):
    distribution: Literal["exponential"]
    mean: Duration
    max: Duration | None = Field(None, description="cap the sample")


class Normal(_Model):
    distribution: Literal["normal"]
    mean: Duration
    stddev: Duration
    max: Duration | None = Field(None, description="cap the sample (it is always at least 0)")


Distribution = Annotated[Union[Uniform, Exponential, Normal], Field(discriminator="distribution")]
HoldTime = Annotated[
    Union[Annotated[Duration, _tag("duration")], Annotated[Distribution, _tag("distribution")]],
    Discriminator(lambda v: "<distribution>" if isinstance(v, (dict, BaseModel)) else "<duration>"),
]


class HoldStep(Step):
    """The call stays up: a fixed time or a sample from a distribution."""

    KIND = "hold"
    hold: HoldTime


class WaitStep(Step):
    """A plain pause, e.g. to let a CMTS timer expire."""

    KIND = "wait"
    wait: Duration


def _optional(model: type[_Model]):
    """``model``, where an empty value (``- disconnect:``) means all defaults."""
    return Annotated[model, BeforeValidator(lambda v: {} if v is None else v,
                                            json_schema_input_type=Union[model, None])]


class DisconnectParams(_Model):
    client_close: bool = Field(True, description="send Client-Close first; false: just close TCP")


class DisconnectStep(Step):
    KIND = "disconnect"
    disconnect: _optional(DisconnectParams)


class ReconnectParams(_Model):
    pass


class ReconnectStep(Step):
    KIND = "reconnect"
    reconnect: _optional(ReconnectParams)


class SyncParams(_Model):
    timeout: Duration | None = None


class SyncStep(Step):
    """Synchronize State Request; passes when the CMTS ends with Synchronize Complete."""

    KIND = "sync"
    sync: _optional(SyncParams)


class RepeatParams(_Model):
    count: REPEAT_COUNT.templated
    steps: list["AnyStep"] = Field(min_length=1)


class RepeatStep(Step):
    """Run ``steps`` ``count`` times; ``${iteration}`` counts from 1 inside."""

    KIND = "repeat"
    repeat: RepeatParams


STEP_CLASSES: dict[str, type[Step]] = {
    cls.KIND: cls
    for cls in (GateAllocStep, GateSetStep, GateInfoStep, GateDeleteStep, ReserveStep, CommitStep, ReleaseStep,
                ExpectEventStep, ExpectNoEventStep, HoldStep, WaitStep, RepeatStep, DisconnectStep, ReconnectStep,
                SyncStep)
}
BARE_STEPS = ("disconnect", "reconnect", "sync")
_MODIFIERS = {name for cls in STEP_CLASSES.values() for name in cls.model_fields} - set(STEP_CLASSES)


def _normalize_step(value: Any) -> Any:
    """Bare ``disconnect`` -> ``{disconnect: {}}``; one action key per step, named in the error if unknown."""
    if isinstance(value, str) and value in BARE_STEPS:
        return {value: {}}
    if not isinstance(value, dict):
        return value  # a Step instance, or a wrong type the discriminator reports
    kinds = [key for key in value if key in STEP_CLASSES]
    if len(kinds) > 1:
        raise PydanticCustomError("step_action", "one action per step, found {kinds}", {"kinds": " and ".join(kinds)})
    if not kinds:
        unknown = [key for key in value if key not in _MODIFIERS]
        what = f"unknown step type {unknown[0]!r}" if unknown else "a step needs an action"
        raise PydanticCustomError("step_action", "{what}; expected one of: {kinds}",
                                  {"what": what, "kinds": ", ".join(STEP_CLASSES)})
    return value


def _step_tag(value: Any) -> str | None:
    if isinstance(value, Step):
        return f"<{value.KIND}>"
    if isinstance(value, dict):
        return next((f"<{key}>" for key in value if key in STEP_CLASSES), None)
    return None


_StepUnion = Annotated[
    Union[tuple(Annotated[cls, _tag(kind)] for kind, cls in STEP_CLASSES.items())],
    Discriminator(_step_tag, custom_error_type="step_type",
                  custom_error_message=f"expected a step, a mapping with one of: {', '.join(STEP_CLASSES)}"),
]
AnyStep = Annotated[
    _StepUnion,
    BeforeValidator(_normalize_step, json_schema_input_type=Union[_StepUnion, Literal[BARE_STEPS]]),
]
RepeatParams.model_rebuild()


# --- the scenario -------------------------------------------------------------------------------------------


class ControllerSettings(_Model):
    """How the gate controller runs this scenario (``ControllerOptions`` fields)."""

    ka_seconds: UINT16.plain = Field(30, description="KA timer in the Client-Accept; 0 = no keep-alives")
    ka_tolerance: float = Field(1.0, gt=0, description="silence of this many KA intervals = CMTS dead")
    request_timeout: DURATION.plain = 5.0
    solicited_null_decision: bool = Field(False, description="answer the CMTS's REQ with a NULL DEC")
    client_close_on_exit: bool = True

    def options(self) -> dict:
        """Keyword arguments for ``cms_sim.connect`` / ``GateControllerPool``."""
        return self.model_dump()


class CmtsSettings(_Model):
    """What the scenario needs from the embedded CMTS (``cmts-sim`` config sections; seconds as numbers).

    Ignored against real gear.
    """

    cmts_id: str | None = None
    ka_tolerance: float | None = Field(None, gt=0)
    timers: TimerSettings | None = None
    capacity: CapacitySettings | None = None
    modem: ModemSettings | None = None
    faults: FaultSettings | None = None
    policy: PolicySettings | None = None

    def apply(self, base: CmtsConfig) -> CmtsConfig:
        """``base`` with the settings this scenario gives (only those it gives) laid over it."""
        merged = base.model_dump()
        for section, value in self.model_dump(exclude_unset=True).items():
            if isinstance(value, dict):
                merged[section] = {**merged[section], **value}
            else:
                merged[section] = value
        return CmtsConfig.model_validate(merged)


class Requirements(_Model):
    """What a scenario needs beyond gate commands.  Each value says why, in a phrase; against real gear
    (``--cmts``) a scenario whose needs are not met is skipped with that reason, never failed."""

    embedded: str | None = Field(None, description="it only works on the embedded CMTS (its settings or faults): why")
    mta: str | None = Field(None, description="a modem must act on its gates: the call it needs on the MTA")
    variables: dict[Annotated[str, Field(pattern=IDENTIFIER)], str] = Field(
        default_factory=dict, description="{name: what it is}: values real gear's configuration decides, "
                                          "given with --var")


class Scenario(_Model):
    """One scenario file."""

    name: str = Field(min_length=1)
    description: str = Field(description="what the scenario teaches or tests")
    variables: dict[Annotated[str, Field(pattern=IDENTIFIER)], SCALAR.plain] = Field(
        default_factory=dict, description="defaults for ${name}; the command line may override them")
    seed: int | None = Field(None, description="seed for hold-time distributions")
    controller: ControllerSettings = Field(default_factory=ControllerSettings)
    cmts: CmtsSettings = Field(default_factory=CmtsSettings)
    requires: Requirements = Field(default_factory=Requirements)
    steps: list[AnyStep] = Field(min_length=1)
    cleanup: list[AnyStep] = Field(default_factory=list, alias="finally",
                                   description="steps run after the others whatever happened (passed, failed, "
                                               "interrupted); then every gate still up gets Gate-Delete")
    _source: str | None = PrivateAttr(None)
    _value_sites: list = PrivateAttr(default_factory=list)  # (line, path, template): see loader.check_values

    @property
    def source(self) -> str | None:
        """The file it was loaded from."""
        return self._source
