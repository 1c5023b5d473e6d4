"""Settings, read once from `LTIGATE_*` environment variables (secrets also from `*_FILE`) and CLI flags.

A missing or invalid value raises SettingsError naming the variable; nothing else reads the environment.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import ipaddress
import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

PREFIX: Final = "LTIGATE_"
SECRET_KEY_FILE_NAME: Final = "secret.key"  # noqa: S105 (a file name, not a secret)
# `ltigate rotate-secret`: the new key waits here until the database is re-encrypted with it, and the
# replaced one is kept here until the operator removes it (docs/decisions/0010-secret-rotation.md).
PENDING_SECRET_KEY_FILE_NAME: Final = "secret.key.new"  # noqa: S105
OLD_SECRET_KEY_FILE_NAME: Final = "secret.key.old"  # noqa: S105
SECRET_KEY_BYTES: Final = 32


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable and what is expected."""


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str
    data_dir: Path
    database_url: str = field(repr=False)  # may carry a password
    secret_key: bytes = field(repr=False)
    # The data directory's generated key file, which `ltigate rotate-secret` replaces; None when the key
    # comes from LTIGATE_SECRET_KEY or LTIGATE_SECRET_KEY_FILE (the operator's to replace).
    secret_key_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    trusted_proxies: tuple[str, ...] = ()
    leeway_seconds: int = 60
    state_ttl_seconds: int = 600
    ticket_ttl_seconds: int = 120
    deep_linking_ttl_seconds: int = 3600  # how long a deep-linking request waits for its answer
    frame_ancestors: tuple[str, ...] = ()  # more origins that may frame launch pages (LMS custom domains)
    key_overlap_hours: int = 72
    allow_private_addresses: bool = False
    outbound_timeout_seconds: float = 5.0
    jwks_refetch_cooldown_seconds: float = 10.0
    retry_base_seconds: float = 5.0  # the first retry of a score delivery; doubles per attempt
    retry_max_age_seconds: float = 7 * 24 * 3600.0  # a score job still failing this long after it was queued fails
    outbox_lease_seconds: float = 120.0  # a claimed score job is claimed again when its worker is silent this long
    log_level: str = "info"
    log_format: str = "json"  # json: one JSON object a line, with the request id; text: for people
    # "asyncio": answers leave as they are written (steady latency); "uvloop": less CPU per request (much
    # less with asyncpg), but it sends a loop iteration's answers together at its end, which doubles tail
    # latency under load; "auto": uvloop on PostgreSQL, asyncio on SQLite (bench/README.md, "Event loop").
    event_loop: str = "auto"
    workers: int = 1  # `serve`'s server processes on one listening socket (cli/supervisor.py)
    # Dynamic Registration: "link" (only with a one-time registration link), "open" (anyone) or "off".
    dynamic_registration: str = "link"
    registration_approval: str = "required"  # "required": a new registration waits for an administrator; "automatic"
    # Issuer → configuration hosts allowed to differ from the issuer's host (platforms that break DR §3.5.2).
    registration_issuer_hosts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    tool_name: str = "ltigate"  # the name LMSs show for the tool (Dynamic Registration, Canvas JSON)
    # Redis for the short-lived caches shared by every process (key sets, service tokens); None: the
    # database holds service tokens and each process its own key sets (docs/decisions/0011).
    redis_url: str | None = field(default=None, repr=False)  # may carry a password
    redis_key_prefix: str = "ltigate:"
    redis_timeout_seconds: float = 1.0

    @property
    def secure(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def url(self, path: str) -> str:
        """An absolute URL under the public base URL."""
        return self.base_url + path

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _read(env: Mapping[str, str], name: str, secret: bool = False) -> str | None:
    value = env.get(PREFIX + name)
    if secret and value is None and (path := env.get(PREFIX + name + "_FILE")):
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"{PREFIX}{name}_FILE: cannot read '{path}': {exc.strerror}") from None
    return value if value not in (None, "") else None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _read(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}: '{raw}' is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{PREFIX}{name}: {value} is below the minimum {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float = math.inf) -> float:
    raw = _read(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}: '{raw}' is not a number") from None
    if not (math.isfinite(value) and minimum <= value <= maximum):
        bounds = f"at least {minimum:g}" if maximum == math.inf else f"between {minimum:g} and {maximum:g}"
        raise SettingsError(f"{PREFIX}{name}: {raw} must be {bounds}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _read(env, name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{PREFIX}{name}: '{raw}' is not a boolean (true/false)")


def is_loopback_host(host: str) -> bool:
    if host in ("localhost", "localhost.") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(raw: str, variable: str = PREFIX + "BASE_URL") -> str:
    """Validate a public base URL: absolute http(s), no query or fragment; plain http only on loopback."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{variable}: '{raw}' is not an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise SettingsError(f"{variable}: '{raw}' must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise SettingsError(f"{variable}: '{raw}' uses plain http on a non-loopback host; use https")
    return raw.rstrip("/")


# A CSP host source: scheme, host (optionally with a leading wildcard label), optional port; nothing else,
# so a value cannot smuggle another directive into the Content-Security-Policy header.
_FRAME_SOURCE = re.compile(r"https?://(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]{1,5})?")


def _frame_ancestors(env: Mapping[str, str]) -> tuple[str, ...]:
    sources = tuple(dict.fromkeys((_read(env, "FRAME_ANCESTORS") or "").replace(",", " ").lower().split()))
    for source in sources:
        if not _FRAME_SOURCE.fullmatch(source):
            raise SettingsError(
                f"{PREFIX}FRAME_ANCESTORS: '{source}' is not an origin such as https://canvas.example.edu "
                "or https://*.example.edu"
            )
    return sources


def generate_secret_key() -> bytes:
    return secrets.token_bytes(SECRET_KEY_BYTES)


def format_secret_key(key: bytes) -> str:
    """A secret key as it is written to a key file: urlsafe base64 and a newline."""
    return base64.urlsafe_b64encode(key).decode() + "\n"


def parse_secret_key(raw: str, source: str) -> bytes:
    """A secret key from its urlsafe base64 text (padding optional); raises SettingsError naming `source`."""
    raw = raw.strip()
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise SettingsError(f"{source}: the secret key is not urlsafe base64") from None
    if len(key) < SECRET_KEY_BYTES:
        raise SettingsError(f"{source}: the secret key has {len(key)} bytes; at least {SECRET_KEY_BYTES} are needed")
    return key


def _secret_key(env: Mapping[str, str], data_dir: Path) -> tuple[bytes, Path | None]:
    """The secret key, and the data directory's file it was read from (None: from the environment)."""
    raw = _read(env, "SECRET_KEY", secret=True)
    if raw is not None:
        return parse_secret_key(raw, PREFIX + "SECRET_KEY"), None
    path = data_dir / SECRET_KEY_FILE_NAME
    if not path.exists():
        # A fresh key beside a rotation's files would hide the key the database is sealed with.
        for left in (PENDING_SECRET_KEY_FILE_NAME, OLD_SECRET_KEY_FILE_NAME):
            if (data_dir / left).exists():
                raise SettingsError(
                    f"{path} is missing but {data_dir / left} exists (left by `ltigate rotate-secret`): put the "
                    f"key the database is sealed with back as {SECRET_KEY_FILE_NAME} (from a backup, or "
                    f"{PENDING_SECRET_KEY_FILE_NAME} after an interrupted rotation)"
                )
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(format_secret_key(generate_secret_key()))
    return parse_secret_key(path.read_text(), str(path)), path


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (_read(env, name) or default).strip().lower()
    if value not in choices:
        raise SettingsError(f"{PREFIX}{name}: '{value}' is not one of {', '.join(choices)}")
    return value


def _issuer_hosts(env: Mapping[str, str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`issuer=host[,issuer=host…]`: configuration hosts allowed for an issuer on another host."""
    pairs: dict[str, list[str]] = {}
    for entry in (_read(env, "REGISTRATION_ISSUER_HOSTS") or "").split(","):
        if not entry.strip():
            continue
        issuer, _, host = entry.strip().rpartition("=")
        parts = urlsplit(issuer)
        if parts.scheme != "https" or not parts.hostname or not host or "/" in host:
            raise SettingsError(
                f"{PREFIX}REGISTRATION_ISSUER_HOSTS: '{entry.strip()}' is not issuer=host "
                "(e.g. https://blackboard.com=developer.blackboard.com)"
            )
        pairs.setdefault(issuer, []).append(host.lower())
    return tuple((issuer, tuple(hosts)) for issuer, hosts in pairs.items())


_REDIS_PREFIX = re.compile(r"[A-Za-z0-9:_.-]{1,64}")


def _redis_url(env: Mapping[str, str]) -> str | None:
    """`redis://`, `rediss://` (TLS) or `unix://` URL; the error messages never quote a password."""
    raw = _read(env, "REDIS_URL", secret=True)
    if raw is None:
        return None
    variable = f"{PREFIX}REDIS_URL"
    parts = urlsplit(raw.strip())
    if not parts.scheme or "://" not in raw:
        raise SettingsError(f"{variable}: the URL has no scheme; use redis://host:6379/0, rediss:// or unix://")
    shown = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(f"{variable}: unsupported URL '{shown}'; use redis://, rediss:// or unix://")
    if parts.scheme == "unix":
        if not parts.path.startswith("/"):
            raise SettingsError(f"{variable}: '{shown}' names no socket path (unix:///run/redis.sock)")
    else:
        try:
            parts.port  # noqa: B018 (raises ValueError when the port is not a number in range)
        except ValueError:
            raise SettingsError(f"{variable}: '{shown}' has an invalid port") from None
        if not parts.hostname:
            raise SettingsError(f"{variable}: '{shown}' names no host (redis://host:6379/0)")
        if parts.path not in ("", "/") and not re.fullmatch(r"/[0-9]{1,5}", parts.path):
            raise SettingsError(f"{variable}: '{shown}' has a path that is not a database number (e.g. /0)")
    if importlib.util.find_spec("redis") is None:
        raise SettingsError(f"{variable} is set but the redis package is missing: pip install 'ltigate[redis]'")
    return raw.strip()


def _redis_key_prefix(env: Mapping[str, str]) -> str:
    value = _read(env, "REDIS_KEY_PREFIX") or "ltigate:"
    if not _REDIS_PREFIX.fullmatch(value):
        raise SettingsError(f"{PREFIX}REDIS_KEY_PREFIX: '{value[:80]}' must be 1–64 of A–Z a–z 0–9 : _ . -")
    return value


def load_settings(env: Mapping[str, str] | None = None, **flags: object) -> Settings:
    """Build Settings from `env` (default: os.environ) with CLI `flags` taking precedence.

    Flags use the field names (base_url, data_dir, database_url, host, port). The secret key is
    generated into the data directory on first start when none is given.
    """
    env = dict(os.environ if env is None else env)
    for name, value in flags.items():
        if value is not None:
            env[PREFIX + name.upper()] = str(value)
    data_dir = Path(_read(env, "DATA_DIR") or "./.ltigate").expanduser().resolve()
    host = _read(env, "HOST") or "127.0.0.1"
    port = _int(env, "PORT", 8000, minimum=1)
    base_url = check_base_url(_read(env, "BASE_URL") or f"http://{host if host != '0.0.0.0' else '127.0.0.1'}:{port}")  # noqa: S104
    database_url = _read(env, "DATABASE_URL", secret=True) or f"sqlite+aiosqlite:///{data_dir / 'ltigate.db'}"
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql://", "postgres://")):
        raise SettingsError(
            f"{PREFIX}DATABASE_URL: unsupported scheme in '{database_url.split('://')[0]}://'; "
            "use sqlite+aiosqlite:// or postgresql://"
        )
    if database_url.startswith(("postgresql://", "postgres://")):
        database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    proxies = tuple(p.strip() for p in (_read(env, "TRUSTED_PROXIES") or "").split(",") if p.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(f"{PREFIX}TRUSTED_PROXIES: '{proxy}' is not an IP address or network") from None
    level = (_read(env, "LOG_LEVEL") or "info").lower()
    if level not in ("debug", "info", "warning", "error"):
        raise SettingsError(f"{PREFIX}LOG_LEVEL: '{level}' is not one of debug, info, warning, error")
    secret_key, secret_key_file = _secret_key(env, data_dir)
    return Settings(
        base_url=base_url,
        data_dir=data_dir,
        database_url=database_url,
        secret_key=secret_key,
        secret_key_file=secret_key_file,
        host=host,
        port=port,
        trusted_proxies=proxies,
        leeway_seconds=_int(env, "LEEWAY_SECONDS", 60),
        state_ttl_seconds=_int(env, "STATE_TTL_SECONDS", 600, minimum=30),
        ticket_ttl_seconds=_int(env, "TICKET_TTL_SECONDS", 120, minimum=5),
        deep_linking_ttl_seconds=_int(env, "DEEP_LINKING_TTL_SECONDS", 3600, minimum=60),
        frame_ancestors=_frame_ancestors(env),
        key_overlap_hours=_int(env, "KEY_OVERLAP_HOURS", 72),
        allow_private_addresses=_bool(
            env, "ALLOW_PRIVATE_ADDRESSES", is_loopback_host(urlsplit(base_url).hostname or "")
        ),
        outbound_timeout_seconds=float(_int(env, "OUTBOUND_TIMEOUT_SECONDS", 5, minimum=1)),
        jwks_refetch_cooldown_seconds=float(_int(env, "JWKS_REFETCH_COOLDOWN_SECONDS", 10, minimum=1)),
        retry_base_seconds=_float(env, "RETRY_BASE_SECONDS", 5.0, minimum=0.1, maximum=3600.0),
        retry_max_age_seconds=_float(env, "RETRY_MAX_AGE_SECONDS", 7 * 24 * 3600.0, minimum=1.0),
        outbox_lease_seconds=_float(env, "OUTBOX_LEASE_SECONDS", 120.0, minimum=1.0),
        log_level=level,
        log_format=_choice(env, "LOG_FORMAT", "json", ("json", "text")),
        event_loop=_choice(env, "EVENT_LOOP", "auto", ("auto", "asyncio", "uvloop")),
        workers=_int(env, "WORKERS", 1, minimum=1),
        dynamic_registration=_choice(env, "DYNAMIC_REGISTRATION", "link", ("link", "open", "off")),
        registration_approval=_choice(env, "REGISTRATION_APPROVAL", "required", ("required", "automatic")),
        registration_issuer_hosts=_issuer_hosts(env),
        tool_name=(_read(env, "TOOL_NAME") or "ltigate").strip()[:100],
        redis_url=_redis_url(env),
        redis_key_prefix=_redis_key_prefix(env),
        redis_timeout_seconds=_float(env, "REDIS_TIMEOUT_SECONDS", 1.0, minimum=0.05, maximum=30.0),
    )
