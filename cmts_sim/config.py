"""The simulated CMTS's settings: one pydantic model, loadable from YAML, every field also a CLI flag.

Defaults follow protocol.md; what it marks UNVERIFIED is a setting here with
the documented default (``policy``).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    WrapValidator,
    field_validator,
    model_validator,
)

from cops_core import tls
from cops_core.addresses import parse_address
from cops_core.integrity import ALGORITHMS, DEFAULT_ALGORITHM, IntegrityKey, IntegritySettings

from .admission import Capacity
from .gates import GatePolicy, Timers


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimerSettings(_Settings):
    """Gate timer defaults in seconds; a Gate-Spec's own non-zero T1/T7/T8 win."""

    t0: NonNegativeFloat = Field(Timers.t0, description="Allocated without a Gate-Set")
    t1: NonNegativeFloat = Field(Timers.t1, description="Authorized without a commit")
    t7: NonNegativeFloat = Field(Timers.t7, description="Reserved (admitted) without activation; 0 = off")
    t8: NonNegativeFloat = Field(Timers.t8, description="Committed with media stopped; 0 = off")

    def to_timers(self) -> Timers:
        return Timers(self.t0, self.t1, self.t7, self.t8)


class CapacitySettings(_Settings):
    upstream_kbps: NonNegativeFloat = 100_000.0
    downstream_kbps: NonNegativeFloat = 400_000.0
    max_gates: NonNegativeInt = 100_000
    rate_unit: Literal["bytes", "bits"] = Field("bytes", description="unit of Gate-Spec r/p/R (UNVERIFIED)")

    def to_capacity(self) -> Capacity:
        return Capacity(self.upstream_kbps, self.downstream_kbps, self.max_gates, self.rate_unit)


class ModemSettings(_Settings):
    """The simulated cable modems behind the CMTS."""

    mode: Literal["auto", "driven"] = Field(
        "auto", description="auto: reserve and commit after each Gate-Set; driven: a scenario calls each step")
    reserve_delay: NonNegativeFloat = 0.05
    commit_delay: NonNegativeFloat = 0.05
    hold: NonNegativeFloat | None = Field(None, description="release this long after commit; null = never")


class Fixed(_Settings):
    fixed: NonNegativeFloat


class Uniform(_Settings):
    uniform: tuple[NonNegativeFloat, NonNegativeFloat]


class Exponential(_Settings):
    exponential: NonNegativeFloat = Field(description="mean")


def _one_delay_error(value, handler):
    """One clear message for a bad delay, rather than one per union member pydantic tried."""
    try:
        return handler(value)
    except ValidationError:
        raise ValueError("expected seconds (>= 0), or {fixed: S}, {uniform: [LOW, HIGH]}, {exponential: MEAN}, "
                         f"got {value!r}") from None


Delay = Annotated[Union[NonNegativeFloat, Fixed, Uniform, Exponential], WrapValidator(_one_delay_error)]


class RejectSettings(_Settings):
    share: Annotated[float, Field(ge=0.0, le=1.0)]
    code: int = Field(1, ge=1, le=127, description="PacketCable-Error code of the Gate-Set-Err")


class FaultSettings(_Settings):
    """Misbehaviour on purpose, to test a gate controller's error paths."""

    reply_delay: Delay = 0.0
    reject_gate_set: RejectSettings | None = None
    drop_after_messages: PositiveInt | None = Field(None, description="close TCP after receiving N messages")
    stop_keepalives: bool = False
    malformed_after_messages: PositiveInt | None = Field(
        None, description="after receiving N messages, send one message with a bad length")


class PolicySettings(_Settings):
    """Behaviour protocol.md marks UNVERIFIED, with its defaults."""

    close_on_t0: bool = True
    close_on_delete: bool = False
    auto_commit_flag: NonNegativeInt = 0x01
    event_transaction_id: NonNegativeInt = 0
    closed_gate_linger: NonNegativeFloat = Field(
        30.0, description="seconds a closed gate's ID still takes a Gate-Delete (answered with an Ack)")
    event_report_type: Literal[1, 2, 3] = Field(3, description="Report-Type of Gate-Open/Gate-Close RPTs")
    reroute_events: bool = Field(
        True, description="a gate's events go to a GC reconnected from the same host once its own GC is gone")
    orphaned_gate_timeout: NonNegativeFloat = Field(
        300.0, description="seconds a gate outlives its gate controller's connection (a GC that reconnects from "
        "the same host takes it over, if reroute_events); then it is deleted. 0 = kept until its timers end it")
    malformed_decision: Literal["drq", "error-reply"] = Field(
        "drq", description="a DEC that breaks COPS rules: DRQ (RFC 2748) or log + Gate-*-Err 127")

    def to_gate_policy(self) -> GatePolicy:
        return GatePolicy(self.close_on_t0, self.close_on_delete, self.auto_commit_flag, self.event_transaction_id,
                          self.closed_gate_linger)


class TlsSettings(_Settings):
    """COPS over TLS (RFC 4261).  The CMTS is the PEP, so it is the TLS client whichever side dialled: it asks for
    TLS in its Client-Open, checks the gate controller's certificate against ``ca`` (and, for a gate controller
    it dials, the name dialled) and shows its own certificate to a gate controller that asks for one."""

    cert: str | None = Field(None, description="PEM certificate shown to gate controllers that check CMTSes")
    key: str | None = Field(None, validate_default=True,
                            description="its PEM private key; null = in the certificate file")
    ca: str = Field(description="PEM file of the CA (or CAs) a gate controller's certificate must chain to")

    @field_validator("key")
    @classmethod
    def _identity_loads(cls, key: str | None, info: ValidationInfo) -> str | None:
        cert = info.data.get("cert")
        if key is not None and cert is None:
            raise ValueError("a key needs its certificate (tls.cert)")
        if cert is not None:
            tls.check_identity(cert, key)
        return key

    @field_validator("ca")
    @classmethod
    def _ca_loads(cls, ca: str) -> str:
        tls.check_ca(ca)
        return ca


KeyText = Annotated[str, AfterValidator(lambda text: IntegrityKey.parse(text) and text)]
"""``KEYID:HEX``, checked when the settings load; the text is kept (and never echoed in an error)."""


class IntegrityConfig(_Settings):
    """COPS message integrity (RFC 2748 2.2.16 and 4.1, protocol.md 2.8): sign and check every message."""

    keys: list[KeyText] = Field(min_length=1, description="shared keys as KEYID:HEX; the first signs, any of "
                                "them is accepted")
    algorithm: Literal[tuple(ALGORITHMS)] = DEFAULT_ALGORITHM  # type: ignore[valid-type]
    required: bool = Field(False, description="refuse a gate controller that does not negotiate integrity "
                           "(Client-Close, Error 15); otherwise it gets an unsigned connection")

    @model_validator(mode="after")
    def _distinct_key_ids(self) -> "IntegrityConfig":
        self.to_settings()  # ValueError for two keys with one Key ID
        return self

    def to_settings(self) -> IntegritySettings:
        return IntegritySettings(tuple(map(IntegrityKey.parse, self.keys)), self.algorithm, self.required)

    @classmethod
    def of(cls, settings: IntegritySettings | None) -> "IntegrityConfig | None":
        """The settings as this section holds them (cms-sim gives its embedded CMTS its own keys)."""
        if settings is None:
            return None
        return cls(keys=[f"{key.key_id}:{key.secret.hex()}" for key in settings.keys], algorithm=settings.algorithm,
                   required=settings.required)


Address = Annotated[str, AfterValidator(lambda text: _checked_address(text))]
"""``HOST[:PORT]``, checked when the settings load (a port past 65535 would otherwise wrap)."""


class CmtsConfig(_Settings):
    """Everything ``cmts-sim serve`` can be told."""

    cmts_id: str = Field("CMTS-SIM", description="PEPID sent in Client-Open")
    listen: list[Address] = Field(default_factory=lambda: ["127.0.0.1:2126"])
    connect: list[Address] = Field(default_factory=list,
                                   description="dial these PDPs instead of (or as well as) listening")
    allow: list[IPvAnyNetwork] = Field(
        default_factory=list, description="accept gate controllers only from these networks (CIDR, or one "
        "address); empty = from anywhere. Others are closed before any COPS, with a log line")
    ka_tolerance: Annotated[float, Field(gt=0)] = Field(
        1.0, description="peer is dead after this many KA intervals of silence")
    max_message: PositiveInt = 64 * 1024
    max_connections: PositiveInt = Field(
        10_000, description="gate-controller connections at once; more are closed before any COPS, logged, "
        "and counted with the refused ones")
    accept_timeout: Annotated[float, Field(gt=0)] = Field(
        10.0, description="seconds a gate controller has to answer the Client-Open with Client-Accept; then "
        "Client-Close (Error 9) and the connection is closed")
    write_timeout: Annotated[float, Field(gt=0)] = Field(
        10.0, description="seconds a send may wait on a peer that reads nothing; then its connection is cut")
    max_send_buffer: PositiveInt = Field(
        4 * 1024 * 1024, description="bytes queued for one gate controller that is not reading; past it its "
        "connection is cut")
    max_receive_buffer: PositiveInt = Field(
        128 * 1024, description="bytes read from one gate controller and not yet handled (at least max_message); "
        "what it sends beyond waits in the kernel")
    receive_buffer: PositiveInt | None = Field(
        128 * 1024, description="SO_RCVBUF of each connection, bytes: bounds the requests a peer can queue "
        "unanswered, and so how far replies can lag under overload; null = the kernel's autotuning")
    tls: TlsSettings | None = Field(None, description="COPS over TLS (RFC 4261); null = plain TCP")
    integrity: IntegrityConfig | None = Field(None, description="COPS message integrity (RFC 2748); null = none; "
                                              "not with tls")
    metrics_port: Annotated[int, Field(ge=0, le=65535)] | None = Field(
        None, description="serve Prometheus metrics (GET /metrics) on this port, on the first listen address's "
        "host; null = none")
    timers: TimerSettings = Field(default_factory=TimerSettings)
    capacity: CapacitySettings = Field(default_factory=CapacitySettings)
    modem: ModemSettings = Field(default_factory=ModemSettings)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)

    @model_validator(mode="after")
    def _buffer_holds_a_message(self) -> "CmtsConfig":
        if self.max_receive_buffer < self.max_message:
            raise ValueError(f"max_receive_buffer ({self.max_receive_buffer}) must be at least max_message "
                             f"({self.max_message})")
        return self

    @model_validator(mode="after")
    def _one_security(self) -> "CmtsConfig":
        # Each is negotiated in the one client-type 0 Client-Open a connection has, and TLS protects every message.
        if self.tls is not None and self.integrity is not None:
            raise ValueError("tls and integrity: choose one, not both (TLS already protects every message)")
        return self


def _checked_address(text: str) -> str:
    parse_address(text)
    return text
