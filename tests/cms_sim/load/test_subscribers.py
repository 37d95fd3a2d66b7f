"""Per-call subscribers: address ranges, CSV files (SIPp's -inf), and sharing between workers."""

import ipaddress

import pytest

from cms_sim.load.subscribers import AddressRange, SubscriberError, Subscribers


def test_a_dash_range_is_inclusive_and_cycles():
    subscribers = Subscribers.from_range("10.0.0.1-10.0.0.3")
    got = [subscribers.next()["subscriber"] for _ in range(4)]
    assert [str(address) for address in got] == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1"]


def test_a_network_gives_its_host_addresses():
    network = AddressRange("10.64.0.0/30")
    assert [str(address) for address in network] == ["10.64.0.1", "10.64.0.2"]
    assert len(AddressRange("10.64.0.0/12")) == (1 << 20) - 2


@pytest.mark.parametrize("text", ["10.0.0.250-10.0.1.3", "192.168.7.0/29", "2001:db8::fe-2001:db8::101", "10.9.9.9"])
def test_a_ranges_addresses_are_those_ipaddress_counts_to(text):
    addresses = AddressRange(text)
    first = ipaddress.ip_address(text.split("-")[0].split("/")[0])
    offset = 1 if "/" in text else 0  # a network's host addresses start after its own
    for index, address in enumerate(addresses):
        expected = first + offset + index
        assert (type(address), address, str(address), hash(address)) == (type(expected), expected, str(expected),
                                                                          hash(expected))


def test_workers_take_every_nth_subscriber_so_none_is_shared():
    first = Subscribers.from_range("10.0.0.1-10.0.0.6", worker=0, workers=2)
    second = Subscribers.from_range("10.0.0.1-10.0.0.6", worker=1, workers=2)
    a = {str(first.next()["subscriber"]) for _ in range(3)}
    b = {str(second.next()["subscriber"]) for _ in range(3)}
    assert a == {"10.0.0.1", "10.0.0.3", "10.0.0.5"} and b == {"10.0.0.2", "10.0.0.4", "10.0.0.6"}


@pytest.mark.parametrize("text", ["10.0.0.9-10.0.0.1", "10.0.0.1-::1", "nonsense", "10.0.0.0/33", "300.1.1.1"])
def test_a_range_that_makes_no_sense_is_one_clear_error(text):
    with pytest.raises(SubscriberError, match=r"--subscribers .*: expected A-B, NET/LEN or an address"):
        Subscribers.from_range(text)


def test_a_csv_file_names_its_variables_in_the_header(tmp_path):
    path = tmp_path / "subs.csv"
    path.write_text("# lab subscribers\nsubscriber;remote\n10.9.0.1;10.1.1.20\n10.9.0.2;10.1.1.21\n")
    subscribers = Subscribers.from_csv(str(path))
    first, second, third = (subscribers.next() for _ in range(3))
    assert first == {"subscriber": ipaddress.ip_address("10.9.0.1"), "remote": "10.1.1.20"}
    assert second["remote"] == "10.1.1.21" and third == first


@pytest.mark.parametrize("text, message", [
    ("", "no header row"),
    ("subscriber\n", "a header row but no subscribers"),
    ("subscriber,remote\n10.0.0.1\n", r":2: 1 fields, expected 2"),
    ("subscriber\nnot-an-ip\n", r":2: subscriber: expected an IP address, got 'not-an-ip'"),
    ("1st column\n10.0.0.1\n", r":1: column name '1st column' is not a variable name"),
])
def test_a_bad_csv_file_names_the_line_and_what_was_expected(tmp_path, text, message):
    path = tmp_path / "subs.csv"
    path.write_text(text)
    with pytest.raises(SubscriberError, match=message):
        Subscribers.from_csv(str(path))


def test_a_missing_csv_file_says_so(tmp_path):
    with pytest.raises(SubscriberError, match="cannot read"):
        Subscribers.from_csv(str(tmp_path / "absent.csv"))
