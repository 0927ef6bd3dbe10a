"""The embedded S3 store for scale-out tests: the jar profiles a scale-out profile needs beyond
the local stack's (s3a, s3proxy), resolved when this machine's `make setup` (a local profile)
has not, and a private s3proxy started and stopped around a test module."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from gamelake.config import Settings
from gamelake.runtime import artifacts, process, s3


def ensure_optional_jars(settings: Settings) -> None:
    """Resolve each of the profile's optional jar profiles that has no jars yet (Maven, cached
    in ~/.m2), without touching the local stack's artifacts."""
    layout = artifacts.Layout(settings.paths, settings.versions)
    missing = [
        p
        for p in artifacts.optional_profiles(settings)
        if not any((layout.paths.jars / p).glob("*.jar"))
    ]
    if not missing:
        return
    with tempfile.TemporaryDirectory(dir=layout.paths.home, prefix="resolve-") as tmp:
        for profile in missing:
            artifacts.install_jars(layout, profile, Path(tmp))


@contextlib.contextmanager
def running_s3proxy(settings: Settings, creds: s3.Credentials) -> Iterator[process.ServiceHandle]:
    """The profile's embedded s3proxy, healthy, with its bucket; stopped on the way out."""
    assert settings.s3 is not None and settings.s3.embedded
    ensure_optional_jars(settings)
    handle = s3.handle(settings)
    started = time.monotonic()
    s3.start(settings, creds)
    try:
        process.wait_until(
            lambda: s3.is_healthy(s3.BIND_HOST, settings.s3.port),
            60,
            alive=lambda: handle.pid() is not None,
            what="s3proxy",
            log_file=handle.log_file,
        )
        print(f"s3proxy healthy after {time.monotonic() - started:.1f}s")
        yield handle
    finally:
        process.stop(handle)
