"""Secrets by policy: which JSON keys hold a secret (conf/secrets.yaml plus every contract's
``secret: true`` fields), and their values masked in text or removed from parsed events.

The same regular expressions run in Python (collector, ``produce``) and in Spark (bronze,
Java regex), so both ends of the pipe agree on what a secret is. Everything works on the raw
text, so it also holds for records that are not valid JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml

from gamelake.errors import GamelakeError

REDACTED = "[REDACTED]"
POLICY_FILE = "secrets.yaml"

Engine = Literal["python", "java"]

_STRING = r'"(?:[^"\\]|\\.)*"'
_NUMBER = r"-?[0-9][^,}\]\s]*"
# Any bare token that is not a number, a literal or a container: text of a broken record.
_BARE = r"(?![-0-9{\[]|true\b|false\b|null\b)[^,}\]\s]+"
# Objects and arrays nest this deep before the rest of the record is masked instead.
_MAX_DEPTH = 6


def _container(open_: str, close: str, depth: int) -> str:
    """Regex of a closed object or array holding strings and containers up to ``depth``."""
    inner = r'[^{}\[\]"]|' + _STRING
    if depth > 0:
        inner += "|" + _container(r"[{\[]", r"[}\]]", depth - 1)
    return f"{open_}(?:{inner})*{close}"


def _word(name: str) -> str:
    """Regex of a policy word: its parts with "_", "-", "." or nothing between them."""
    parts = [re.escape(p) for p in re.split(r"[-_.\s]+", name.strip().lower()) if p]
    return r"[-_.]?".join(parts)


@dataclass(frozen=True)
class SecretPolicy:
    """Secret key names: words a key may contain, exact declared names, exact exceptions."""

    words: tuple[str, ...]
    exact: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()

    @cached_property
    def name_regex(self) -> str:
        """Regex matching a whole key name that holds a secret (case-insensitive)."""
        words = "|".join(_word(w) for w in self.words)
        options = [rf'[^"\\]*(?:{words})[^"\\]*'] if words else []
        options += [re.escape(name) for name in self.exact]
        if not options:
            return "(?!)"  # matches nothing
        allowed = "|".join(re.escape(a) for a in self.allow)
        guard = f'(?!(?:{allowed})")' if allowed else ""
        return f"(?i:{guard}(?:{'|'.join(options)}))"

    @cached_property
    def hints(self) -> tuple[tuple[str, ...], ...]:
        """Lower-case texts a secret key contains all of, one group per word (its parts, since
        separators may sit between them) or declared name: a cheap test before the regex.

        All parts, not one: "api" alone (of api_key) is in every record naming an API host,
        a tenth of the bench's traffic, and each of those paid the key regex for nothing.
        """
        split = (re.split(r"[-_.\s]+", w.strip().lower()) for w in self.words)
        words = [tuple(p for p in parts if p) for parts in split]
        names = [(e.lower(),) for e in self.exact]
        return tuple(sorted({g for g in [*words, *names] if g}))

    def is_secret(self, key: str) -> bool:
        """True when an object key's name says its value is a secret."""
        # Quoted as in JSON text: the exceptions' guard looks for the closing quote.
        return self._compiled[2].fullmatch(f'"{key}"') is not None

    def key_regex(self, engine: Engine = "python") -> str:
        """Regex of a secret key and its colon, captured as group ``key``."""
        group = "(?P<key>" if engine == "python" else "(?<key>"
        return rf'{group}"{self.name_regex}"\s*:\s*)'

    def replacements(self, engine: Engine = "python") -> list[tuple[str, str]]:
        """(pattern, replacement) passes that mask every secret value of a text, in order."""
        key = self.key_regex(engine)
        ref = r"\g<key>" if engine == "python" else "${key}"
        return [
            # Closed containers first (the kind survives), then what is left of an unclosed one.
            (key + _container(r"\{", r"\}", _MAX_DEPTH), ref + "{}"),
            (key + _container(r"\[", r"\]", _MAX_DEPTH), ref + "[]"),
            (key + r"(?:\{(?!\})|\[(?!\]))[\s\S]*", f'{ref}"{REDACTED}"'),
            (key + rf'(?:"(?:[^"\\]|\\.)*"?|{_BARE})', f'{ref}"{REDACTED}"'),
            (key + _NUMBER, ref + "0"),
        ]

    @cached_property
    def _compiled(
        self,
    ) -> tuple[re.Pattern[str], list[tuple[re.Pattern[str], str]], re.Pattern[str]]:
        passes = [(re.compile(p), r) for p, r in self.replacements("python")]
        return re.compile(self.key_regex("python")), passes, re.compile(f'"{self.name_regex}"')

    def mentions(self, text: str) -> bool:
        """True when a text has a secret key in it."""
        lower = text.lower()
        hinted = any(all(part in lower for part in parts) for parts in self.hints)
        return hinted and self._compiled[0].search(text) is not None

    def redact_text(self, text: str) -> str:
        """The text with every secret key's value masked; unchanged when it has none."""
        if not self.mentions(text):
            return text
        for pattern, replacement in self._compiled[1]:
            text = pattern.sub(replacement, text)
        return text

    def strip(self, value: Any) -> Any:
        """The parsed value with every secret key removed at any depth (objects edited in place)."""
        if isinstance(value, dict):
            for key in [k for k in value if isinstance(k, str) and self.is_secret(k)]:
                del value[key]
            for item in value.values():
                self.strip(item)
        elif isinstance(value, list):
            for item in value:
                self.strip(item)
        return value


def load_policy(conf_dir: Path, declared: Iterable[str] = ()) -> SecretPolicy:
    """The secret policy of conf/secrets.yaml, plus the contracts' declared secret names."""
    path = conf_dir / POLICY_FILE
    spec = yaml.safe_load(path.read_text()) if path.exists() else {}
    spec = spec or {}
    unknown = set(spec) - {"names", "allow"}
    if unknown:
        raise GamelakeError(
            f"{path}: unknown keys {sorted(unknown)}", fix="keep only `names` and `allow`"
        )
    return SecretPolicy(
        words=tuple(str(w) for w in spec.get("names") or ()),
        exact=tuple(sorted(set(declared))),
        allow=tuple(str(a) for a in spec.get("allow") or ()),
    )


def declared_secrets(contracts: Mapping[str, Any]) -> list[str]:
    """Names of the contract fields declared ``secret: true``, over every family."""
    return sorted({path[-1] for c in contracts.values() for path in c.secret_paths()})
