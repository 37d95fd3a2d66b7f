"""Per-call variables: subscriber addresses from a range, or rows of a CSV file (SIPp's ``-inf``).

Each call takes the next entry, cycling at the end.  A range gives the
``subscriber`` variable; a CSV file gives one variable per column, named by
its header row.  With several workers, worker ``i`` of ``n`` takes entries
``i, i+n, i+2n ...``, so no two workers use the same subscriber at once.
Every problem is a :class:`SubscriberError` whose text is one line for the user.
"""

from __future__ import annotations

import csv
import ipaddress
from pathlib import Path
from typing import Any, Iterator, Sequence

MAX_CSV_BYTES = 64 * 1024 * 1024
_object_new = object.__new__


class SubscriberError(ValueError):
    """A range or CSV file that cannot give subscribers; the text says where and why."""


class AddressRange(Sequence):
    """``A-B`` (inclusive) or ``NET/LEN`` (every host address), or one address: addresses by index, lazily."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            if "/" in text:
                network = ipaddress.ip_network(text, strict=False)
                hosts = network.num_addresses - (2 if network.version == 4 and network.prefixlen < 31 else 0)
                first = network.network_address + (1 if hosts < network.num_addresses else 0)
                count = max(hosts, 1)
            elif "-" in text:
                low, high = (ipaddress.ip_address(part.strip()) for part in text.split("-", 1))
                if low.version != high.version or high < low:
                    raise ValueError("the range must go up, within one address family")
                first, count = low, int(high) - int(low) + 1
            else:
                first, count = ipaddress.ip_address(text), 1
        except ValueError as exc:
            raise SubscriberError(f"--subscribers {text}: expected A-B, NET/LEN or an address ({exc})") from None
        self.first = first
        self._count = count
        self._v4_base = int(first) if type(first) is ipaddress.IPv4Address else None

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int):
        if not 0 <= index < self._count:
            raise IndexError(index)
        if self._v4_base is None:
            return self.first + index
        # first + index, made as cops_core.fields.ipv4 makes addresses: a load call takes one as it starts, and
        # ipaddress's + goes through __add__, __int__ and __init__ (Python, ~1.5 us).  In range by construction.
        address = _object_new(ipaddress.IPv4Address)
        address._ip = self._v4_base + index
        return address


class Subscribers:
    """The variables each call adds to the scenario's: ``next()`` -> a dict, cycling through ``entries``."""

    def __init__(self, entries: Sequence, columns: tuple[str, ...], *, worker: int = 0, workers: int = 1) -> None:
        if len(entries) < workers:
            raise SubscriberError(f"{len(entries)} subscribers cannot be shared by {workers} workers")
        self.entries = entries
        self.columns = columns
        self._index = worker
        self._stride = workers
        self._size = len(entries)  # fixed: a range's or a file's entries do not change

    @classmethod
    def from_range(cls, text: str, **share) -> "Subscribers":
        return cls(AddressRange(text), ("subscriber",), **share)

    @classmethod
    def from_csv(cls, path: str, **share) -> "Subscribers":
        return cls(*read_csv(path), **share)

    def __len__(self) -> int:
        return len(self.entries)

    def next(self) -> dict[str, Any]:
        entry = self.entries[self._index % self._size]
        self._index += self._stride
        if len(self.columns) == 1 and not isinstance(entry, tuple):
            return {self.columns[0]: entry}
        return dict(zip(self.columns, entry))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            yield self.next()


def read_csv(path: str) -> tuple[list[tuple], tuple[str, ...]]:
    """Rows and column names of a CSV file whose first row names the variables; checks every row.

    A ``subscriber`` column must hold IP addresses (they become address
    objects); other columns stay text and the scenario's fields check them
    when a call uses them.  Lines starting with ``#`` are comments.
    """
    file = Path(path)
    try:
        if file.stat().st_size > MAX_CSV_BYTES:
            raise SubscriberError(f"{path}: larger than {MAX_CSV_BYTES >> 20} MiB")
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubscriberError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise SubscriberError(f"{path}: no header row (the variable names) and no rows")
    header_line = lines[0][1]
    delimiter = next((mark for mark in ",;\t" if mark in header_line), ",")
    rows = list(csv.reader((line for _, line in lines), delimiter=delimiter))
    header = tuple(name.strip() for name in rows[0])
    for name in header:
        if not name.isidentifier():
            raise SubscriberError(f"{path}:{lines[0][0]}: column name {name!r} is not a variable name; "
                                  "the first row names the variables")
    if len(rows) < 2:
        raise SubscriberError(f"{path}: a header row but no subscribers")
    entries = []
    address_column = header.index("subscriber") if "subscriber" in header else None
    for (number, _), row in zip(lines[1:], rows[1:]):
        if len(row) != len(header):
            raise SubscriberError(f"{path}:{number}: {len(row)} fields, expected {len(header)} ({', '.join(header)})")
        values = [value.strip() for value in row]
        if address_column is not None:
            try:
                values[address_column] = ipaddress.ip_address(values[address_column])
            except ValueError:
                raise SubscriberError(f"{path}:{number}: subscriber: expected an IP address, got "
                                      f"{values[address_column]!r}") from None
        entries.append(tuple(values))
    return entries, header
