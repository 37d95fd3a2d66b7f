"""The scenario model's Gate-Spec: its fields, types, defaults and descriptions come from the codec's declarations."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import ValidationError

from cms_sim.scenario.model import GateSpecParams
from cops_core.dqos import GateSpec, SessionClass

REQUIRED = {"direction": "upstream", "source_ip": "10.0.1.10", "destination_ip": "10.1.1.20",
            "token_bucket_rate": 10000, "token_bucket_size": 200, "peak_data_rate": 10000,
            "minimum_policed_unit": 200, "maximum_packet_size": 200, "rate": 10000}


def test_a_scenario_gate_spec_has_the_fields_of_the_codecs_in_wire_order():
    assert list(GateSpecParams.model_fields) == list(GateSpec._fields)


def test_what_a_scenario_gate_spec_leaves_out_has_the_declared_default():
    spec = GateSpecParams.model_validate(REQUIRED)
    assert (spec.protocol, spec.session_class, spec.ds_field, spec.slack_term, spec.t1) == (17, 1, 0xB8, 800, 0)
    assert spec.direction == 1 and spec.source_ip == ipaddress.IPv4Address("10.0.1.10")
    with pytest.raises(ValidationError, match="token_bucket_rate"):
        GateSpecParams.model_validate({**REQUIRED, "token_bucket_rate": None})
    missing = {name: value for name, value in REQUIRED.items() if name != "rate"}
    with pytest.raises(ValidationError, match="rate"):
        GateSpecParams.model_validate(missing)


def test_each_field_is_described_by_its_label_and_unit():
    fields = GateSpecParams.model_fields
    assert fields["token_bucket_rate"].description == "Token Bucket Rate (r), bytes/s"
    assert fields["slack_term"].description == "Slack Term (S), µs"
    assert fields["destination_port"].description == "Destination Port"


def test_codes_are_taken_by_name_or_by_a_number_that_fits_the_field():
    assert GateSpecParams.model_validate({**REQUIRED, "session_class": "high-priority"}).session_class == \
        SessionClass.HIGH_PRIORITY
    with pytest.raises(ValidationError, match="a session class"):
        GateSpecParams.model_validate({**REQUIRED, "session_class": 256})  # one byte on the wire
