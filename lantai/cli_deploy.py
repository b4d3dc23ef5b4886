"""``lantai deploy``: the broker's accounts and ACL, derived from the facility file.

Mosquitto authorises by username, so every device gets an account named after its sensor
id and may publish only to its own two topics (``<prefix>/<site>/<room>/<sensor>`` and its
``/status``): a compromised or misconfigured sensor cannot speak for another room. The
collector (``lantai``) may only read. Gateways may publish only their site's batch topic,
and the bridge accounts of a regional broker only their own site's subtree.

``mosquitto-acl`` prints the ACL file; ``mosquitto-accounts`` writes a plain
``username:password`` file with fresh random passwords, which ``mosquitto_passwd -U``
turns into the broker's hashed password file (README "Production").
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from collectors.topics import BATCH_SEGMENT, reading_topic, status_topic, subscription
from sensors.facility import ID_PATTERN, Facility, load_facility

EXIT_REFUSED = 2
# Mosquitto publishes its uptime here (retained), so a subscriber sees it at once: the
# compose health check proves the broker authenticates and delivers, not just listens.
HEALTH_TOPIC = "$SYS/broker/uptime"
COLLECTOR_USER = "lantai"
HEALTHCHECK_USER = "healthcheck"


class AccountRole(StrEnum):
    """What an account is for; decides the topics it may use."""

    COLLECTOR = "collector"
    HEALTHCHECK = "healthcheck"
    DEVICE = "device"
    GATEWAY = "gateway"
    BRIDGE = "bridge"


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """One broker login and the topics it may read and write."""

    username: str
    role: AccountRole
    note: str
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


class AccountConflict(ValueError):  # noqa: N818 - reads as "the accounts conflict"
    """Two accounts would share a username, or a gateway or bridge names an unknown site."""


def broker_accounts(
    facility: Facility,
    *,
    prefix: str = "archive",
    gateways: Mapping[str, str] | None = None,
    bridges: Mapping[str, str] | None = None,
) -> list[BrokerAccount]:
    """Every account the broker needs, in a stable order (raises AccountConflict)."""
    accounts = [
        BrokerAccount(
            COLLECTOR_USER,
            AccountRole.COLLECTOR,
            "the collector (reads every site, publishes nothing)",
            read=(subscription(prefix),),
        ),
        BrokerAccount(
            HEALTHCHECK_USER,
            AccountRole.HEALTHCHECK,
            "the health check (reads the broker's uptime only)",
            read=(HEALTH_TOPIC,),
        ),
    ]
    accounts.extend(
        BrokerAccount(
            sensor.id,
            AccountRole.DEVICE,
            f"the {sensor.kind.value} sensor in {sensor.site}/{sensor.room}",
            write=(
                reading_topic(prefix, sensor.site, sensor.room, sensor.id),
                status_topic(prefix, sensor.site, sensor.room, sensor.id),
            ),
        )
        for sensor in sorted(facility.all_sensors(), key=lambda s: (s.site, s.room, s.id))
    )
    for user, site in sorted((gateways or {}).items()):
        _known_site(facility, site, f"gateway {user!r}")
        accounts.append(
            BrokerAccount(
                user,
                AccountRole.GATEWAY,
                f"the gateway of site {site} (JSON-array batches only)",
                write=(f"{prefix}/{site}/{BATCH_SEGMENT}",),
            )
        )
    for user, site in sorted((bridges or {}).items()):
        _known_site(facility, site, f"bridge {user!r}")
        accounts.append(
            BrokerAccount(
                user,
                AccountRole.BRIDGE,
                f"the edge bridge of site {site} (that site's subtree only)",
                write=(f"{prefix}/{site}/#",),
            )
        )
    _check_unique(accounts)
    return accounts


def render_acl(accounts: Sequence[BrokerAccount], *, source: str) -> str:
    """Mosquitto's acl_file text: one ``user`` block per account, nothing for anonymous."""
    lines = [
        f"# Mosquitto ACL written by `lantai deploy mosquitto-acl` from {source}.",
        "# Regenerate it when sensors are added; do not edit by hand.",
        "# No lines before the first `user`: anonymous clients may do nothing.",
    ]
    for account in accounts:
        lines += ["", f"# {account.role.value}: {account.note}", f"user {account.username}"]
        lines += [f"topic read {topic}" for topic in account.read]
        lines += [f"topic write {topic}" for topic in account.write]
    return "\n".join(lines) + "\n"


def new_credentials(
    accounts: Iterable[BrokerAccount], existing: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """(username, random password) for every account not in ``existing``."""
    known = set(existing)
    # 24 bytes: 192 bits, URL-safe, so never a ':' that would split mosquitto's file format.
    return [(a.username, secrets.token_urlsafe(24)) for a in accounts if a.username not in known]


def read_usernames(path: Path) -> list[str]:
    """The usernames of a ``username:password`` file (plain or hashed)."""
    text = path.read_text(encoding="utf-8")
    return [line.split(":", 1)[0] for line in text.splitlines() if line.strip()]


def add_deploy_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``lantai deploy ...`` on the main parser."""
    deploy = sub.add_parser("deploy", help="production helpers: the broker's ACL and accounts")
    actions = deploy.add_subparsers(required=True, metavar="ACTION")

    def account_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--facility", type=Path, required=True, help="the facility YAML")
        parser.add_argument("--prefix", default="archive", help="topic prefix (mqtt.topic_prefix)")
        parser.add_argument(
            "--gateway",
            action="append",
            default=[],
            metavar="USER=SITE",
            help="a gateway account that may publish SITE's batches (repeat)",
        )
        parser.add_argument(
            "--bridge",
            action="append",
            default=[],
            metavar="USER=SITE",
            help="a regional broker's account for SITE's edge bridge (repeat)",
        )

    acl = actions.add_parser("mosquitto-acl", help="print Mosquitto's ACL file")
    account_options(acl)
    acl.set_defaults(func=_acl)

    accounts = actions.add_parser(
        "mosquitto-accounts",
        help="write username:password lines with new random passwords (for mosquitto_passwd -U)",
    )
    account_options(accounts)
    accounts.add_argument(
        "--output", type=Path, required=True, help="the plain credentials file (mode 0600)"
    )
    accounts.add_argument(
        "--add-missing",
        action="store_true",
        help="the file exists: append only accounts it lacks, keep the others' passwords",
    )
    accounts.set_defaults(func=_accounts)


def _acl(args: argparse.Namespace) -> int:
    found = _accounts_from_args(args)
    if found is None:
        return EXIT_REFUSED
    sys.stdout.write(render_acl(found, source=str(args.facility)))
    return 0


def _accounts(args: argparse.Namespace) -> int:
    found = _accounts_from_args(args)
    if found is None:
        return EXIT_REFUSED
    path: Path = args.output
    existing: list[str] = []
    if path.exists():
        if not args.add_missing:
            sys.stderr.write(
                f"{path} exists; --add-missing appends the accounts it lacks "
                "(existing passwords stay)\n"
            )
            return EXIT_REFUSED
        existing = read_usernames(path)
    credentials = new_credentials(found, existing)
    # Created 0600 before anything is written: the file holds every device's password.
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    with os.fdopen(os.open(path, flags, 0o600), "a", encoding="utf-8") as out:
        out.writelines(f"{user}:{password}\n" for user, password in credentials)
    sys.stdout.write(
        f"{path}: {len(credentials)} account(s) added, {len(existing)} kept\n"
        f"Hash a copy for the broker: cp {path} passwd && mosquitto_passwd -U passwd\n"
    )
    return 0


def _accounts_from_args(args: argparse.Namespace) -> list[BrokerAccount] | None:
    try:
        gateways = _pairs(args.gateway, "--gateway")
        bridges = _pairs(args.bridge, "--bridge")
        return broker_accounts(
            load_facility(args.facility), prefix=args.prefix, gateways=gateways, bridges=bridges
        )
    except AccountConflict as exc:
        sys.stderr.write(f"Refused: {exc}\n")
        return None


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        user, sep, site = value.partition("=")
        if not sep or not re.match(ID_PATTERN, user) or not re.match(ID_PATTERN, site):
            raise AccountConflict(f"{option} {value!r}: expected USER=SITE, both ids")
        if user in pairs:
            raise AccountConflict(f"{option}: {user!r} given twice")
        pairs[user] = site
    return pairs


def _known_site(facility: Facility, site: str, who: str) -> None:
    if site not in facility.sites:
        known = ", ".join(sorted(facility.sites))
        raise AccountConflict(f"{who}: unknown site {site!r} (known: {known})")


def _check_unique(accounts: Sequence[BrokerAccount]) -> None:
    # Mosquitto has one namespace of usernames: the same sensor id in two sites, or a
    # gateway named like a sensor, would let one device log in as the other.
    seen: dict[str, BrokerAccount] = {}
    for account in accounts:
        other = seen.get(account.username)
        if other is not None:
            raise AccountConflict(
                f"username {account.username!r} is both {other.note} and "
                f"{account.note}; rename one (one broker needs unique usernames)"
            )
        seen[account.username] = account
