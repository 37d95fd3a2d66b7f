"""The COPS integrity options of both tools (protocol.md 2.8), one definition for ``cmts-sim`` and ``cms-sim``.

``--integrity-key KEYID:HEX`` (repeatable; ``@FILE`` reads such lines from a
file, which keeps the secret out of the process list and shell history),
``--integrity-algorithm`` and ``--integrity-required``.  A bad value is one
line and exit 2, as every usage error; no message ever echoes a secret.
"""

from __future__ import annotations

import functools

import click

from cops_core.integrity import ALGORITHMS, IntegrityKey, IntegritySettings
from pktcable_settings import SettingsFileError, read_text

KEY_HELP = "sign and check COPS messages with this shared key (repeatable; the first signs; @FILE: KEYID:HEX lines)"
ALGORITHM_HELP = "integrity digest: hmac-md5-96 (RFC 2748's, the default) or hmac-sha256-128"
REQUIRED_HELP = "refuse a peer that does not negotiate integrity (Client-Close, Error 15)"


def read_keys(ctx: click.Context | None, param: click.Parameter | None, values: tuple[str, ...]) -> tuple[str, ...]:
    """Each ``--integrity-key`` as ``KEYID:HEX`` text, ``@FILE`` ones read (blank lines and ``#`` comments
    skipped); a usage error naming the option otherwise."""
    texts: list[str] = []
    for value in values:
        where = "--integrity-key"
        lines = [value]
        if value.startswith("@"):
            try:
                lines = read_text(value[1:]).splitlines()
            except SettingsFileError as exc:
                raise click.BadParameter(exc.lines[0], ctx, param) from None
            where = value[1:]
            lines = [line.split("#", 1)[0].strip() for line in lines]
            lines = [line for line in lines if line]
            if not lines:
                raise click.BadParameter(f"{where}: no KEYID:HEX line in it", ctx, param)
        for line in lines:
            try:
                IntegrityKey.parse(line)
            except ValueError as exc:
                raise click.BadParameter(f"{where}: {exc}" if where != "--integrity-key" else str(exc),
                                         ctx, param) from None
            texts.append(line.strip())
    return tuple(texts)


def key_option(function):
    """``--integrity-key``, given to the command as ``integrity_keys`` (KEYID:HEX texts)."""
    return click.option("--integrity-key", "integrity_keys", multiple=True, metavar="KEYID:HEX", callback=read_keys,
                        help=KEY_HELP)(function)


def integrity_options(function):
    """The three options, given to the command as one ``integrity``: :class:`IntegritySettings`, or None."""

    @key_option
    @click.option("--integrity-algorithm", type=click.Choice(list(ALGORITHMS)), help=ALGORITHM_HELP)
    @click.option("--integrity-required", is_flag=True, help=REQUIRED_HELP)
    @functools.wraps(function)
    def command(*args, integrity_keys, integrity_algorithm, integrity_required, **kwargs):
        kwargs["integrity"] = integrity_settings(integrity_keys, integrity_algorithm, integrity_required)
        return function(*args, **kwargs)

    return command


def integrity_settings(keys: tuple[str, ...], algorithm: str | None, required: bool) -> IntegritySettings | None:
    """The settings the options make; None without a key (a usage error if the others came without one)."""
    if not keys:
        for option, given in (("--integrity-algorithm", algorithm), ("--integrity-required", required)):
            if given:
                raise click.BadParameter("needs --integrity-key", param_hint=option)
        return None
    try:
        return IntegritySettings(tuple(map(IntegrityKey.parse, keys)), algorithm or "hmac-md5-96", required)
    except ValueError as exc:  # two keys with one Key ID
        raise click.BadParameter(str(exc), param_hint="--integrity-key") from None


def one_security(integrity: bool, tls: bool) -> None:
    """A usage error if both integrity and TLS are asked for: each is negotiated in the one client-type 0
    Client-Open a connection has (RFC 2748 4.1, RFC 4261 5.1), and TLS already protects every message."""
    if integrity and tls:
        raise click.BadParameter("choose integrity or TLS, not both: TLS already protects every message",
                                 param_hint="--integrity-key")
