"""Every CLI against a table of bad input, as a careless user types it: one line saying what, the exit code, no traceback.

Click's runner gives what the terminal would show, stdout and stderr together,
and any exception that escaped (which a terminal would show as a traceback).
"""

from __future__ import annotations

import importlib
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).parents[1]
BASIC = str(ROOT / "scenarios" / "basic_call.yaml")

BOMB = "".join(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n" for prev, name in zip("abcdef", "bcdefg"))
FILES = {
    "broken.yaml": b"steps: [\n",
    "deep.yaml": b"name: n\ndescription: d\nsteps: " + b"[" * 5000 + b"\n",
    "bomb.yaml": ('a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + BOMB
                  + "name: n\ndescription: d\nsteps: [*g]\n").encode(),
    "latin1.yaml": "name: caf\xe9\ndescription: d\nsteps: [sync]\n".encode("latin-1"),
    "forever.yaml": b"name: n\ndescription: d\nsteps:\n  - hold: .inf\n",
    "truncated.pcap": bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000") + b"\x00" * 10,
    "nokeys.txt": b"# the lab's COPS keys go here\n\n",
}


def cases(tmp: Path, busy: int, pki) -> list[tuple[list[str], int, str]]:
    """(argv, exit code, what the one line must say)."""
    f = {name: str(tmp / name) for name in FILES}
    cms, cmts = ["cms_sim.cli"], ["cmts_sim.cli"]
    missing = str(tmp / "missing.pem")
    identity = ["--tls-cert", pki.cms_cert, "--tls-key", pki.cms_key]
    return [
        (cms + ["run", str(tmp / "missing.yaml")], 2, "does not exist"),
        (cms + ["run", f["broken.yaml"]], 2, "broken.yaml:2: YAML syntax"),
        (cms + ["run", f["deep.yaml"]], 2, "nested more than 64 levels deep"),
        (cms + ["run", f["bomb.yaml"]], 2, "aliases (*name) are not supported"),
        (cms + ["run", f["latin1.yaml"]], 2, "latin1.yaml:1: not UTF-8 text"),
        (cms + ["run", f["forever.yaml"]], 2, "steps[0].hold: expected a duration"),
        (cms + ["run", "/dev/zero"], 2, "larger than 1 MiB"),
        (cms + ["run", "--cmts", "127.0.0.1:notaport", BASIC], 2, "the port must be a number from 0 to 65535"),
        (cms + ["run", "--cmts", "[::1", BASIC], 2, "expected [IPV6]:PORT"),
        (cms + ["run", "--cmts", "127.0.0.1:65536", BASIC], 2, "got '65536'"),
        (cms + ["run", "--var", "subscriber=not-an-ip", BASIC], 2, "--var subscriber: "),
        (cms + ["run", "--source", "lab-host", "--cmts", "127.0.0.1", BASIC], 2, "expected an IP address"),
        (cms + ["run", "--report", str(tmp / "absent" / "r.json"), BASIC], 2, "r.json: no folder"),
        (cms + ["conform", "--cmts", "host:port"], 2, "the port must be a number"),
        (cms + ["conform", "--html", str(tmp)], 2, "is a directory"),
        (cms + ["decode", "10 09 zz"], 2, "not a hex digit: 'z'"),
        (cms + ["decode", "/dev/zero"], 2, "more than 64 MiB"),
        (cms + ["decode", f["truncated.pcap"]], 1, "the capture is cut short"),
        (cmts + ["serve", "--quiet", "--listen", "127.0.0.1:99999"], 2, "got '99999'"),
        (cmts + ["serve", "--quiet", "--listen", "nosuchhost.invalid:2126"], 2, "cannot listen on nosuchhost"),
        (cmts + ["serve", "--quiet", "--listen", f"127.0.0.1:{busy}"], 2, "Address already in use"),
        (cmts + ["serve", "--quiet", "--log-json", str(tmp), "--listen", "127.0.0.1:0"], 2, "Is a directory"),
        (cmts + ["serve", "--quiet", "--config", f["bomb.yaml"]], 2, "aliases (*name) are not supported"),
        (cmts + ["serve", "--quiet", "--config", f["latin1.yaml"]], 2, "not UTF-8 text"),
        (cmts + ["serve", "--quiet", "--config", "/dev/zero"], 2, "larger than 1 MiB"),
        (cmts + ["serve", "--quiet", "--allow", "10.0.0.0/33"], 2, "expected an address or a network"),
        (cmts + ["serve", "--quiet", "--t0", "-1"], 2, "--t0: input should be greater than or equal to 0"),
        (cms + ["run", "--listen", "127.0.0.1:0", "--allow", "lab", BASIC], 2, "expected an address or a network"),
        (cms + ["run", "--tls-key", pki.cms_key, BASIC], 2, "goes with --tls-cert: cms-sim is the TLS server"),
        (cms + ["run", "--cmts", "127.0.0.1", "--tls-cert", missing, BASIC], 2, "missing.pem: cannot read: No such"),
        (cms + ["run", "--cmts", "127.0.0.1", "--tls-cert", f["broken.yaml"], BASIC], 2, "not a PEM certificate"),
        (cms + ["run", "--cmts", "127.0.0.1", "--tls-cert", pki.cms_cert, "--tls-key", pki.cmts_key, BASIC], 2,
         "(key values mismatch)"),
        (cms + ["run", "--cmts", "127.0.0.1", *identity, "--tls-require-client-cert", BASIC], 2,
         "needs --tls-ca, to check CMTS certificates"),
        (cms + ["run", *identity, BASIC], 2, "needs --tls-ca, for the embedded CMTS to check ours"),
        (cms + ["run", *identity, "--tls-ca", pki.cms_key, BASIC], 2, "not a PEM CA certificate"),
        (cms + ["load", "--calls", "1", "--tls-ca", pki.ca, BASIC], 2, "goes with --tls-cert"),
        (cms + ["conform", "--tls-require-client-cert"], 2, "goes with --tls-cert"),
        (cmts + ["serve", "--quiet", "--tls-cert", pki.cmts_cert], 2, "--tls-ca: required, but missing"),
        (cmts + ["serve", "--quiet", "--tls-ca", pki.ca, "--tls-key", pki.cmts_key], 2,
         "--tls-key: a key needs its certificate"),
        (cmts + ["serve", "--quiet", "--tls-ca", missing], 2, "--tls-ca: " + missing + ": cannot read"),
        (cmts + ["serve", "--quiet", "--config", str(tmp / "tls.yaml")], 2, "tls.yaml:3: tls.ca: " + missing),
        (cms + ["run", "--integrity-key", "00112233", BASIC], 2, "expected KEYID:HEX"),
        (cms + ["run", "--integrity-required", BASIC], 2, "--integrity-required: needs --integrity-key"),
        (cms + ["run", "--integrity-key", "1:00", "--integrity-key", "0x1:11", BASIC], 2, "Key IDs must differ"),
        (cms + ["load", "--integrity-key", "1:zz", "--calls", "1", BASIC], 2, "Key ID 1: the key must be hex digits"),
        (cms + ["conform", "--integrity-key", "@" + f["nokeys.txt"]], 2, "no KEYID:HEX line in it"),
        (cmts + ["serve", "--quiet", "--integrity-key", f"@{tmp / 'missing.keys'}"], 2, "cannot read"),
        (cmts + ["serve", "--quiet", "--integrity-required"], 2, "integrity.keys: required, but missing"),
        (cmts + ["serve", "--quiet", "--integrity-algorithm", "md5"], 2, "'md5' is not one of"),
        (cms + ["run", *identity, "--tls-ca", pki.ca, "--integrity-key", "1:00", BASIC], 2,
         "choose integrity or TLS, not both"),
        (cmts + ["serve", "--quiet", "--tls-ca", pki.ca, "--integrity-key", "1:00"], 2,
         "tls and integrity: choose one, not both"),
    ]


@pytest.fixture(scope="module")
def table(tmp_path_factory, pki):
    tmp = tmp_path_factory.mktemp("bad")
    for name, data in FILES.items():
        (tmp / name).write_bytes(data)
    (tmp / "tls.yaml").write_text(f"cmts_id: LAB\ntls:\n  ca: {tmp / 'missing.pem'}\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield [run(argv, code, say) for argv, code, say in cases(tmp, busy.getsockname()[1], pki)]


def run(argv: list[str], code: int, say: str):
    """One CLI call in this process (click's runner): exit code and what it printed, stdout and stderr."""
    module, *args = argv
    main = importlib.import_module(module).main
    result = CliRunner().invoke(main, args)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    output = result.output + ("Traceback (most recent call last): " + repr(result.exception) if crashed else "")
    return args, code, say, result.exit_code, output


def test_every_bad_input_gets_its_exit_code_and_one_line_saying_what(table):
    wrong = []
    for args, code, say, got, output in table:
        lines = [line for line in output.splitlines() if line.strip()]
        saying = [line for line in lines if say in line]
        if got != code or "Traceback" in output or len(saying) != 1 or len(lines) > 3:
            wrong.append(f"{' '.join(args)}: exit {got} (expected {code}); output:\n{output}")
    assert not wrong, "\n".join(wrong)
