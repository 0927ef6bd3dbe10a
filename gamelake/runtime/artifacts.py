"""JVM artifacts from Maven Central (via conf/maven/pom.xml) laid out under the home folder.

Layout after `install_artifacts`:
    <home>/jars/spark/*.jar        Delta + the Kafka source, minus what pyspark already ships
    <home>/jars/kafka/*.jar        the Kafka broker classpath
    <home>/jars/gamelake/gamelake-jvm-<digest>.jar
                                   gamelake's own JVM code (jvm/src), compiled against pyspark's
                                   jars by `build_jvm_code` (javac from the JDK)
    <home>/dist/trino-server-<v>/  Trino with only the plugins gamelake uses
    <home>/dist/trino-cli-<v>-executable.jar
and, only for a profile that needs them (`optional_profiles`):
    <home>/jars/s3a/*.jar          hadoop-aws and the AWS SDK modules S3A uses, minus the above
    <home>/jars/s3proxy/*.jar      the s3proxy server classpath
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from gamelake.config import LakeUri, Paths, Settings, Versions
from gamelake.errors import GamelakeError

log = logging.getLogger(__name__)

# Trino ships ~80 plugins (0.8 GB); unpacking only these keeps start-up and disk small.
# password-authenticators: the file authenticator checking the generated passwords.
TRINO_PLUGINS = ("delta-lake", "password-authenticators")
# The pom profiles copied into <home>/jars/<profile>, and what they are.
JAR_PROFILES = {
    "spark": "Spark jars (Delta, Kafka source)",
    "kafka": "the Kafka broker",
    "s3a": "S3A jars (hadoop-aws, AWS SDK modules)",
    "s3proxy": "the s3proxy S3 server",
}
_JAR_NAME = re.compile(r"^(?P<artifact>.+?)-\d[\w.\-]*\.jar$")
# gamelake's own JVM code (the record inspector, gamelake.inspector), built by build_jvm_code.
JVM_SOURCES = Path(__file__).resolve().parents[2] / "jvm" / "src"


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where the resolved artifacts live for one home folder and version set."""

    paths: Paths
    versions: Versions

    @property
    def spark_jars(self) -> Path:
        return self.paths.jars / "spark"

    @property
    def kafka_jars(self) -> Path:
        return self.paths.jars / "kafka"

    @property
    def s3a_jars(self) -> Path:
        return self.paths.jars / "s3a"

    @property
    def s3proxy_jars(self) -> Path:
        return self.paths.jars / "s3proxy"

    @property
    def trino_home(self) -> Path:
        return self.paths.dist / f"trino-server-{self.versions.trino}"

    @property
    def trino_cli(self) -> Path:
        return self.paths.dist / f"trino-cli-{self.versions.trino}-executable.jar"

    @property
    def jvm_code_jar(self) -> Path:
        """gamelake's own JVM code, named by its sources' digest (a changed source needs a
        new build)."""
        return self.paths.jars / "gamelake" / f"gamelake-jvm-{sources_digest(JVM_SOURCES)}.jar"

    @property
    def stamp(self) -> Path:
        return self.paths.home / "artifacts.json"

    @property
    def pom(self) -> Path:
        return self.paths.conf / "maven" / "pom.xml"

    def spark_jar_paths(self, s3a: bool = False) -> list[Path]:
        """The jars to hand Spark (spark.jars), with S3A's if asked, or an error telling to
        run setup."""
        jars = sorted(self.spark_jars.glob("*.jar"))
        if not jars:
            raise GamelakeError(
                f"no Spark jars in {self.spark_jars}", fix="run `make setup` (or `gamelake setup`)"
            )
        jvm_code = self.jvm_code_jar
        if not jvm_code.is_file():
            raise GamelakeError(
                f"{jvm_code} is not built (jvm/src is new or changed)",
                fix="run `make setup` (or `gamelake setup`)",
            )
        jars.append(jvm_code)
        if not s3a:
            return jars
        s3a_jars = sorted(self.s3a_jars.glob("*.jar"))
        if not s3a_jars:
            raise GamelakeError(
                f"no S3A jars in {self.s3a_jars} (the lake or the checkpoints are s3a://)",
                fix="run `gamelake setup` with this profile (GAMELAKE_ENV=<profile>)",
            )
        return jars + s3a_jars


def artifact_name(jar_file: str) -> str | None:
    """'kafka-clients-3.9.2.jar' -> 'kafka-clients' (Scala suffixes kept)."""
    match = _JAR_NAME.match(jar_file)
    return match.group("artifact") if match else None


def jars_not_provided(candidates: list[Path], provided_dir: Path) -> list[Path]:
    """The candidate jars whose artifact is not already in `provided_dir` (any version)."""
    provided = {artifact_name(p.name) for p in provided_dir.glob("*.jar")}
    return [c for c in candidates if artifact_name(c.name) not in provided]


def uses_s3a(settings: Settings) -> bool:
    """True when the profile's lake or checkpoints are on object storage (s3a://)."""
    return any(
        isinstance(p, LakeUri) and p.startswith("s3a://")
        for p in (settings.paths.lake, settings.paths.checkpoints)
    )


def optional_profiles(settings: Settings) -> tuple[str, ...]:
    """The pom profiles beyond the local stack's that this profile needs resolved."""
    s3 = settings.s3
    needed = ["s3a"] if uses_s3a(settings) or s3 is not None else []
    if s3 is not None and s3.embedded:
        needed.append("s3proxy")
    return tuple(needed)


def pyspark_jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def _fingerprint(layout: Layout) -> str:
    digest = hashlib.sha256(layout.pom.read_bytes())
    digest.update(",".join(TRINO_PLUGINS).encode())
    return digest.hexdigest()


def _read_stamp(layout: Layout) -> dict:
    try:
        return json.loads(layout.stamp.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def is_installed(layout: Layout, optional: Sequence[str] = ()) -> bool:
    """True when the stamp matches the pom and every output (and each optional one) is in place."""
    stamp = _read_stamp(layout)
    return (
        stamp.get("fingerprint") == _fingerprint(layout)
        and set(optional) <= set(stamp.get("optional", []))
        and all(any((layout.paths.jars / p).glob("*.jar")) for p in optional)
        and any(layout.spark_jars.glob("*.jar"))
        and any(layout.kafka_jars.glob("*.jar"))
        and (layout.trino_home / "bin" / "launcher").is_file()
        and layout.trino_cli.is_file()
    )


def _mvn(pom: Path, profile: str, goal: str, out_dir: Path) -> None:
    if shutil.which("mvn") is None:
        raise GamelakeError(
            "Maven (mvn) is not on PATH; it resolves the JVM artifacts",
            fix="apt-get install maven",
        )
    cmd = [
        "mvn", "-B", "-q", "-f", str(pom), "-P", profile, goal,
        f"-DoutputDirectory={out_dir}", "-DincludeScope=runtime",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        errors = [ln for ln in result.stdout.splitlines() if "ERROR" in ln][:5]
        raise GamelakeError(
            f"Maven could not resolve the {profile!r} artifacts:\n" + "\n".join(errors),
            fix="check that Maven Central is reachable (mvn -X shows the URLs tried)",
        )


def _replace_dir(target: Path, files: list[Path]) -> None:
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for f in files:
        shutil.copy2(f, staging / f.name)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def _unpack_trino(tarball: Path, dest: Path) -> None:
    """Unpack lib/, bin/ and the chosen plugins of the Trino tarball into `dest`.

    The tarball stores each shared jar once and hard-links the other copies, often to a
    plugin we skip, so links are resolved to their source member here: one pass indexes
    the archive, a second streams it once and writes each needed member where it goes.
    """
    top = f"{dest.name}/"
    keep = ("lib/", "bin/", *(f"plugin/{p}/" for p in TRINO_PLUGINS))
    staging = dest.with_name(dest.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    destinations: dict[str, list[tuple[str, int]]] = {}  # source member -> [(rel path, mode)]
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            rel = member.name.removeprefix(top)
            if not rel.startswith(keep) or ".." in Path(rel).parts:
                continue
            if member.isdir():
                (staging / rel).mkdir(parents=True, exist_ok=True)
            elif member.isfile() or member.islnk():
                source = member.linkname if member.islnk() else member.name
                destinations.setdefault(source, []).append((rel, member.mode))
    with tarfile.open(tarball, "r|gz") as tar:
        for member in tar:
            if member.name not in destinations or not member.isfile():
                continue
            (first, mode), *others = destinations.pop(member.name)
            target = staging / first
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            target.chmod(mode & 0o755 | 0o644)
            for rel, _ in others:
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                os.link(target, staging / rel)
    if destinations:
        raise GamelakeError(
            f"{tarball.name} lacks {len(destinations)} linked files, e.g. "
            f"{next(iter(destinations))}",
            fix="run `gamelake setup --force`",
        )
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)


def install_artifacts(
    layout: Layout,
    force: bool = False,
    progress: Callable[[str], None] = log.info,
    optional: Sequence[str] = (),
) -> dict[str, float]:
    """Resolve and lay out every JVM artifact, plus the `optional` profiles' (s3a, s3proxy);
    returns seconds per step (empty if up to date)."""
    if not force and is_installed(layout, optional):
        progress("JVM artifacts are up to date")
        return {}
    timings: dict[str, float] = {}
    layout.paths.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=layout.paths.home, prefix="resolve-") as tmp:
        tmp_dir = Path(tmp)
        if force or not is_installed(layout):
            timings.update(_install_core(layout, tmp_dir, progress))
            # A new core (its spark jars) invalidates the optional profiles laid out against it.
            layout.stamp.write_text(json.dumps({"fingerprint": _fingerprint(layout)}, indent=2))
        stamp = _read_stamp(layout)
        for profile in optional:
            if force or profile not in stamp.get("optional", []):
                timings.update(install_jars(layout, profile, tmp_dir, progress))
                stamp["optional"] = sorted({*stamp.get("optional", []), profile})
                layout.stamp.write_text(json.dumps(stamp, indent=2))
    return timings


def _install_core(
    layout: Layout, tmp_dir: Path, progress: Callable[[str], None]
) -> dict[str, float]:
    """The local stack's artifacts: Spark's extra jars, the Kafka broker, Trino and its CLI."""
    timings = install_jars(layout, "spark", tmp_dir, progress)
    timings.update(install_jars(layout, "kafka", tmp_dir, progress))

    started = time.monotonic()
    progress(f"resolving Trino {layout.versions.trino} (0.8 GB once, then cached in ~/.m2)")
    _mvn(layout.pom, "trino", "dependency:copy", tmp_dir / "trino")
    layout.paths.dist.mkdir(parents=True, exist_ok=True)
    shutil.copy2(tmp_dir / "trino" / layout.trino_cli.name, layout.trino_cli)
    layout.trino_cli.chmod(0o755)
    progress(f"unpacking Trino with plugins: {', '.join(TRINO_PLUGINS)}")
    _unpack_trino(
        tmp_dir / "trino" / f"trino-server-{layout.versions.trino}.tar.gz", layout.trino_home
    )
    timings["trino_s"] = time.monotonic() - started
    return timings


def install_jars(
    layout: Layout, profile: str, tmp_dir: Path, progress: Callable[[str], None] = log.info
) -> dict[str, float]:
    """One jar profile of the pom resolved into <home>/jars/<profile>; returns its seconds."""
    started = time.monotonic()
    progress(f"resolving {JAR_PROFILES[profile]} with Maven")
    _mvn(layout.pom, profile, "dependency:copy-dependencies", tmp_dir / profile)
    jars = sorted((tmp_dir / profile).glob("*.jar"))
    # What joins spark.jars keeps one copy of each artifact, whichever version is there first:
    # pyspark's own jars, then the spark profile's (netty, httpclient, commons-logging, slf4j).
    if profile in ("spark", "s3a"):
        jars = jars_not_provided(jars, pyspark_jars_dir())
    if profile == "s3a":
        jars = jars_not_provided(jars, layout.spark_jars)
    _replace_dir(layout.paths.jars / profile, jars)
    return {f"{profile}_jars_s": time.monotonic() - started}


def sources_digest(source_dir: Path) -> str:
    """A short digest of the Java sources under `source_dir` (names the jar built from them)."""
    digest = hashlib.sha256()
    for path in sorted(source_dir.rglob("*.java")):
        digest.update(path.relative_to(source_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build_jvm_code(
    layout: Layout, force: bool = False, progress: Callable[[str], None] = log.info
) -> dict[str, float]:
    """gamelake's JVM code (jvm/src) compiled against pyspark's own jars into
    `layout.jvm_code_jar`; returns its seconds (empty if that jar is already built)."""
    jar = layout.jvm_code_jar
    if jar.is_file() and not force:
        return {}
    javac = shutil.which("javac")
    if javac is None:
        raise GamelakeError(
            "javac is not on PATH; it compiles gamelake's JVM code (jvm/src)",
            fix="install a JDK 17+ (apt-get install openjdk-17-jdk-headless)",
        )
    started = time.monotonic()
    progress(f"compiling gamelake's JVM code ({JVM_SOURCES}) into {jar.name}")
    jar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=jar.parent, prefix="javac-") as tmp:
        sources = sorted(str(p) for p in JVM_SOURCES.rglob("*.java"))
        classpath = str(pyspark_jars_dir() / "*")
        cmd = [javac, "--release", "17", "-cp", classpath, "-d", tmp, *sources]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            errors = [ln for ln in result.stderr.splitlines() if "error" in ln][:5]
            raise GamelakeError(
                "javac could not compile gamelake's JVM code:\n" + "\n".join(errors),
                fix=f"run: {' '.join(cmd)}",
            )
        staging = Path(tmp) / jar.name
        with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as out:
            out.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n\n")
            for cls in sorted(Path(tmp).rglob("*.class")):
                out.write(cls, cls.relative_to(tmp).as_posix())
        for old in jar.parent.glob("gamelake-jvm-*.jar"):
            old.unlink()
        staging.rename(jar)
    return {"gamelake_jvm_s": time.monotonic() - started}


def disk_usage_mb(path: Path) -> float:
    """Bytes on disk under `path` in MiB, counting hard-linked files once."""
    inodes = {
        (st.st_dev, st.st_ino): st.st_size
        for f in path.rglob("*")
        if (st := f.lstat()) and f.is_file()
    }
    return sum(inodes.values()) / 2**20


if __name__ == "__main__":
    # `python -m gamelake.runtime.artifacts spark s3a`: only these jar profiles and gamelake's
    # JVM code, as an image build wants them (no Kafka broker, no Trino), for the profile
    # named by GAMELAKE_ENV.
    import sys

    from gamelake.config import DEFAULT_ENV, load_settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    _settings = load_settings(os.environ.get("GAMELAKE_ENV", DEFAULT_ENV))
    _layout = Layout(_settings.paths, _settings.versions)
    _layout.paths.jars.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=_layout.paths.home, prefix="resolve-") as _tmp:
        for _profile in sys.argv[1:]:
            install_jars(_layout, _profile, Path(_tmp))
    build_jvm_code(_layout)
