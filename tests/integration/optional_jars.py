"""The jar profiles a scale-out profile needs beyond the local stack's (s3a, s3proxy), resolved
for a test when this machine's `make setup` (a local profile) has not."""

from __future__ import annotations

import tempfile
from pathlib import Path

from gamelake.config import Settings
from gamelake.runtime import artifacts


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
