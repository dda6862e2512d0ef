"""``Session.from_config`` files: TOML with ``[session]`` and ``[hosts."<target>"]`` tables.

Secrets never live in the file: credentials are named by environment variable
(``token_env``, ``password_env``) and read when the session is built.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Final

from requests.auth import AuthBase

from httpkit._exceptions import ConfigError
from httpkit._policy import HostConfig
from httpkit._retry import RetryPolicy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

_SESSION_ONLY: Final = frozenset(
    {"user_agent", "base_url", "pool_maxsize", "raise_for_status", "store_url", "store_url_env"}
)
_POLICY_KEYS: Final = frozenset(
    {
        "timeout",
        "retry",
        "deadline",
        "headers",
        "verify",
        "cert",
        "ssrf",
        "cache",
        "rate_limit",
        "max_body",
        "circuit",
    }
)
#: ``[session]`` keys that are requests.Session attributes; the others are Session() arguments.
_SESSION_ATTRS: Final = frozenset({"headers", "verify", "cert", "auth"})
_AUTH_KEYS: Final = frozenset(
    {"auth", "username", "password_env", "token_env", "token_header", "token_scheme"}
)
_SECRET_KEYS: Final = {
    "password": "password_env",
    "token": "token_env",
    "key_password": "cert_password_env",
}
#: TLS keys: the session's go to ``Session(...)``; a host's key password is read from the
#: environment variable ``cert_password_env`` names.
_TLS_SESSION_KEYS: Final = frozenset({"trust", "min_tls"})
_TLS_HOST_KEYS: Final = frozenset({"trust", "min_tls", "pins", "cert_password_env"})
_RETRY_KEYS: Final = frozenset(RetryPolicy._field_names)


@dataclass
class LoadedConfig:
    """A validated config: constructor keywords, session attributes, host policies."""

    session: dict[str, Any] = field(default_factory=dict)
    session_attrs: dict[str, Any] = field(default_factory=dict)
    hosts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def load_config(source: str | PathLike[str] | Mapping[str, Any]) -> LoadedConfig:
    """Parse and validate a config file or mapping.

    Raises:
        ConfigError: naming the file, the table and the key at fault.
    """
    if isinstance(source, Mapping):
        name, document = "<mapping>", source
    else:
        name = os.fspath(source)
        try:
            with open(name, "rb") as fh:
                document = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read the config file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{name}: not valid TOML: {exc}") from None
        except UnicodeDecodeError as exc:
            line = exc.object[: exc.start].count(b"\n") + 1
            raise ConfigError(
                f"{name}: line {line}: not UTF-8 (byte 0x{exc.object[exc.start]:02x}); "
                "TOML files are UTF-8: save the file as UTF-8"
            ) from None
    for table in document:
        if table not in ("session", "hosts"):
            raise ConfigError(
                f'{name}: unknown table [{table}]; a config has [session] and [hosts."<target>"]'
            )
    loaded = LoadedConfig()
    session_table = _table(document, "session", name, "[session]")
    where = f"{name} [session]"
    settings = _settings(
        session_table, where, allow=_POLICY_KEYS | _SESSION_ONLY | _TLS_SESSION_KEYS
    )
    store = _store(settings, where)
    if store is not None:
        settings["store"] = store
    for key, value in settings.items():
        destination = loaded.session_attrs if key in _SESSION_ATTRS else loaded.session
        destination[key] = value
    hosts = _table(document, "hosts", name, "[hosts]")
    for target, table in hosts.items():
        where = f'{name} [hosts."{target}"]'
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: expected a table of settings, got {table!r}")
        loaded.hosts.append((target, _settings(table, where, allow=_POLICY_KEYS | _TLS_HOST_KEYS)))
    return loaded


def _store(settings: dict[str, Any], where: str) -> Any:
    """``store_url`` (no password: secrets are not read from files) or ``store_url_env``."""
    url = settings.pop("store_url", None)
    variable = settings.pop("store_url_env", None)
    if url is not None and variable is not None:
        raise ConfigError(f"{where}: set store_url or store_url_env, not both")
    if variable is not None:
        url = _env(where, "store_url_env", {"store_url_env": variable})
    elif url is not None:
        if not isinstance(url, str):
            raise ConfigError(f"{where}: store_url: expected a URL string, got {url!r}")
        if "@" in url.partition("://")[2].partition("/")[0]:  # userinfo: a password
            raise ConfigError(
                f"{where}: store_url: secrets are not read from config files; put the URL "
                'with its password in an environment variable (store_url_env = "MY_VAR")'
            )
    if url is None:
        return None
    from httpkit.stores import store_from_url

    return store_from_url(url, f"{where}: {'store_url_env' if variable else 'store_url'}")


def _table(document: Mapping[str, Any], key: str, name: str, shown: str) -> Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: {shown} must be a table, got {value!r}")
    return value


def _settings(table: Mapping[str, Any], where: str, *, allow: frozenset[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key, value in table.items():
        if key in _SECRET_KEYS:
            raise ConfigError(
                f"{where}: {key}: secrets are not read from config files; name an environment "
                f'variable instead ({_SECRET_KEYS[key]} = "MY_VAR") and export it'
            )
        if key in _AUTH_KEYS:
            continue
        if key not in allow:
            known = ", ".join(sorted(allow | _AUTH_KEYS))
            raise ConfigError(f"{where}: unknown key {key!r}; known keys: {known}")
        settings[key] = _convert(key, value, where)
    auth = _auth(table, where)
    if auth is not None:
        settings["auth"] = auth
    if settings.pop("cert_password_env", None) is not None:
        settings["key_password"] = _env(where, "cert_password_env", table)
    # Validate every value now so the error names the file and table.
    HostConfig.from_settings(
        {k: v for k, v in settings.items() if k not in _SESSION_ONLY}, where=where
    )
    return settings


def _convert(key: str, value: Any, where: str) -> Any:
    """TOML spellings: ``false`` disables timeouts and deadlines; arrays become tuples."""
    if key in ("timeout", "deadline") and value is False:
        return None
    if key == "timeout" and isinstance(value, list):
        return tuple(value)
    if key == "timeout" and isinstance(value, Mapping):
        unknown = set(value) - {"connect", "read"}
        if unknown:
            raise ConfigError(
                f"{where}: timeout: unknown key {sorted(unknown)[0]!r}; use connect, read"
            )
        return (value.get("connect"), value.get("read"))
    if key == "retry" and isinstance(value, Mapping):
        unknown = set(value) - _RETRY_KEYS
        if unknown:
            raise ConfigError(
                f"{where}: retry: unknown key {sorted(unknown)[0]!r}; "
                f"known keys: {', '.join(sorted(_RETRY_KEYS))}"
            )
        try:
            return RetryPolicy(**value)
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{where}: retry: {exc}") from None
    if key == "cert" and isinstance(value, list):
        return tuple(value)
    return value


def _env(where: str, key: str, table: Mapping[str, Any]) -> str:
    variable = table[key]
    if not isinstance(variable, str) or not variable:
        raise ConfigError(
            f"{where}: {key}: expected an environment variable name, got {variable!r}"
        )
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(
            f"{where}: {key}: the environment variable {variable} is not set (or empty); "
            "export it before building the session"
        )
    return value


def _auth(table: Mapping[str, Any], where: str) -> AuthBase | None:
    from httpkit.auth import BasicAuth, DigestAuth, TokenAuth

    kind = table.get("auth")
    if kind is not None and kind not in ("basic", "digest", "token"):
        raise ConfigError(f"{where}: auth: expected 'basic', 'digest' or 'token', got {kind!r}")
    if "token_env" in table:
        if kind not in (None, "token") or "password_env" in table:
            raise ConfigError(f"{where}: token_env cannot be combined with password auth")
        header = table.get("token_header", "Authorization")
        scheme = table.get("token_scheme", "Bearer")
        if not isinstance(header, str) or not isinstance(scheme, str):
            raise ConfigError(f"{where}: token_header and token_scheme must be strings")
        return TokenAuth(_env(where, "token_env", table), header=header, scheme=scheme or None)
    if "password_env" in table:
        username = table.get("username")
        if not isinstance(username, str) or not username:
            raise ConfigError(f'{where}: password_env needs a username = "..." beside it')
        password = _env(where, "password_env", table)
        if kind == "digest":
            return DigestAuth(username, password)
        if kind in (None, "basic"):
            return BasicAuth(username, password)
        raise ConfigError(f"{where}: auth = 'token' needs token_env, not password_env")
    for key in ("auth", "username", "token_header", "token_scheme"):
        if key in table:
            raise ConfigError(
                f"{where}: {key} is set but no credential is: add password_env or token_env"
            )
    return None
