"""Listen and dial addresses are checked when the settings load: one line and exit 2, never a wrapped port."""

import pydantic
import pytest
from click.testing import CliRunner

from cmts_sim.cli import main
from cmts_sim.config import CmtsConfig
from cops_core.addresses import parse_address


@pytest.mark.parametrize("text, address", [("127.0.0.1:2126", ("127.0.0.1", 2126)), ("lab-cmts", ("lab-cmts", 2126)),
                                           ("[::1]:3918", ("::1", 3918)), ("[::1]", ("::1", 2126)),
                                           ("0.0.0.0:0", ("0.0.0.0", 0))])
def test_good_addresses_parse(text, address):
    assert parse_address(text) == address


@pytest.mark.parametrize("text, message", [
    ("127.0.0.1:99999", "the port must be a number from 0 to 65535, got '99999'"),
    ("127.0.0.1:70000", "got '70000'"),  # it used to listen on 4464
    ("127.0.0.1:abc", "got 'abc'"),
    ("[::1", "expected [IPV6]:PORT"),
    ("[::1]x", "expected [IPV6]:PORT"),
    (":2126", "no host"),
])
def test_bad_addresses_are_refused_with_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        parse_address(text)
    with pytest.raises(pydantic.ValidationError):
        CmtsConfig(listen=[text])


def test_serve_with_a_bad_listen_address_says_so_in_one_line_and_exits_2():
    result = CliRunner().invoke(main, ["serve", "--quiet", "--listen", "127.0.0.1:99999"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: Invalid value for '--listen': the port must be a number from 0 to 65535, got '99999'")
