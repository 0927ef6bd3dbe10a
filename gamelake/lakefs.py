"""The one way gamelake touches a lake or checkpoint location: a local folder, or a prefix of an
S3 bucket.

A location is a `Path` (or a plain string, or `file://...`): plain os calls, so the streams'
start-up reads of `_delta_log` keep local-disk speed. A `LakeUri` (`s3a://bucket/key`,
`s3://...`, see gamelake.config) is reached with pyarrow's S3 filesystem, built from the
`S3Settings` the location carries (endpoint, region, path style); credentials come from
pyarrow's own lookup (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). Delta and Spark read and
write the tables themselves; this module serves what gamelake reads around them: commit files,
checkpoint offsets, the app-id marker, the lake's table folders.

Object stores have no folders: a prefix "is a directory" once an object lives below it, so
`mkdirs` does nothing there and a rename is a copy then a delete. s3proxy's file backend answers
500 (not 404) to a HEAD below an object: probe `<table>/_delta_log` only where `<table>` is a
folder or absent, never below a file.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from gamelake.config import LakeUri
from gamelake.errors import GamelakeError

if TYPE_CHECKING:
    from pyarrow.fs import FileInfo, S3FileSystem

    from gamelake.config import S3Settings

Location = Path | str
_S3_SCHEMES = ("s3a://", "s3://")


def _is_remote(location: Location) -> bool:
    return isinstance(location, str) and "://" in location and not location.startswith("file://")


def _local(location: Location) -> str:
    """The os path of a local location (a Path, a plain string or a file:// URI)."""
    text = os.fspath(location)
    return text[len("file://") :] if text.startswith("file://") else text


class _LocalFs:
    """A folder on this machine, through plain os calls."""

    def exists(self, location: Location) -> bool:
        return os.path.exists(_local(location))

    def is_dir(self, location: Location) -> bool:
        return os.path.isdir(_local(location))

    def list_names(self, location: Location) -> list[str]:
        try:
            return os.listdir(_local(location))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def list_dirs(self, location: Location) -> list[str]:
        try:
            with os.scandir(_local(location)) as entries:
                return [e.name for e in entries if e.is_dir()]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def open_text(self, location: Location) -> IO[str]:
        # A file is its own context manager: the caller closes it.
        return open(_local(location), encoding="utf-8")

    def create_if_absent(self, location: Location, text: str) -> bool:
        try:
            with open(_local(location), "x", encoding="utf-8") as f:
                f.write(text)
        except FileExistsError:
            return False
        return True

    def mtime_ms(self, location: Location) -> int | None:
        try:
            return int(os.stat(_local(location)).st_mtime * 1000)
        except FileNotFoundError:
            return None

    def delete(self, location: Location) -> None:
        path = _local(location)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.remove(path)

    def mkdirs(self, location: Location) -> None:
        os.makedirs(_local(location), exist_ok=True)

    def rename(self, source: Location, target: Location) -> None:
        os.rename(_local(source), _local(target))


class _S3Fs:
    """A prefix of an S3 bucket, through pyarrow's S3 filesystem."""

    def __init__(self, fs: S3FileSystem) -> None:
        self.fs = fs

    @staticmethod
    def key(location: Location) -> str:
        """bucket/key, the form pyarrow names objects by."""
        return str(location).split("://", 1)[1].rstrip("/")

    def _info(self, location: Location) -> FileInfo:
        return self.fs.get_file_info(self.key(location))

    def exists(self, location: Location) -> bool:
        from pyarrow.fs import FileType

        return self._info(location).type != FileType.NotFound

    def is_dir(self, location: Location) -> bool:
        from pyarrow.fs import FileType

        return self._info(location).type == FileType.Directory

    def _children(self, location: Location) -> list[FileInfo]:
        from pyarrow.fs import FileSelector

        return self.fs.get_file_info(FileSelector(self.key(location), allow_not_found=True))

    def list_names(self, location: Location) -> list[str]:
        return [info.base_name for info in self._children(location)]

    def list_dirs(self, location: Location) -> list[str]:
        from pyarrow.fs import FileType

        return [i.base_name for i in self._children(location) if i.type == FileType.Directory]

    @contextmanager
    def open_text(self, location: Location) -> Iterator[IO[str]]:
        with self.fs.open_input_stream(self.key(location)) as stream:
            yield io.TextIOWrapper(stream, encoding="utf-8")

    def create_if_absent(self, location: Location, text: str) -> bool:
        # pyarrow has no conditional PUT (If-None-Match), so this checks then writes: safe
        # for the one writer a checkpoint has (Spark's own rule), not for racing writers.
        if self.exists(location):
            return False
        with self.fs.open_output_stream(self.key(location)) as out:
            out.write(text.encode())
        return True

    def mtime_ms(self, location: Location) -> int | None:
        info = self._info(location)
        return None if info.mtime_ns is None else info.mtime_ns // 1_000_000

    def delete(self, location: Location) -> None:
        from pyarrow.fs import FileType

        kind = self._info(location).type
        if kind == FileType.Directory:
            # s3proxy's file backend keeps the empty folders of deleted objects and lists them
            # as prefixes, which pyarrow then finds absent: nothing is left to delete.
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_dir(self.key(location))
        elif kind == FileType.File:
            self.fs.delete_file(self.key(location))

    def mkdirs(self, location: Location) -> None:
        """Nothing to make: a prefix exists once an object is written below it."""

    def rename(self, source: Location, target: Location) -> None:
        # S3 has no rename: each object is copied, then the source deleted. Not atomic: a crash
        # midway leaves both (the source intact until every copy is made).
        from pyarrow.fs import FileSelector, FileType

        src, dst = self.key(source), self.key(target)
        if not self.is_dir(source):
            self.fs.move(src, dst)
            return
        for info in self.fs.get_file_info(FileSelector(src, recursive=True)):
            if info.type == FileType.File:
                self.fs.copy_file(info.path, dst + info.path[len(src) :])
        self.fs.delete_dir(src)


_LOCAL = _LocalFs()


@functools.cache
def _s3(store: S3Settings) -> _S3Fs:
    """One pyarrow S3 client per endpoint, made on first use."""
    from pyarrow.fs import S3FileSystem

    return _S3Fs(
        S3FileSystem(
            endpoint_override=f"{store.host}:{store.port}",
            scheme="https" if store.secure else "http",
            region=store.region,
            # pyarrow addresses buckets by path once an endpoint is given.
            force_virtual_addressing=not store.path_style,
        )
    )


def _fs(location: Location) -> _LocalFs | _S3Fs:
    """The backend that reaches `location`."""
    if not _is_remote(location):
        return _LOCAL
    if not location.startswith(_S3_SCHEMES):  # type: ignore[union-attr]
        raise GamelakeError(
            f"no filesystem for {location}", fix="use a local path, file://, s3a:// or s3://"
        )
    store = getattr(location, "store", None)
    if store is None:
        raise GamelakeError(
            f"{location} names object storage, but no S3 endpoint comes with it",
            fix="add an `s3:` section (endpoint, bucket) to the profile in conf/env/",
        )
    return _s3(store)


def exists(location: Location) -> bool:
    """True when a file or folder (an object or a prefix) is at `location`."""
    return _fs(location).exists(location)


def is_dir(location: Location) -> bool:
    """True when `location` is a folder (on S3: a prefix holding objects)."""
    return _fs(location).is_dir(location)


def list_names(location: Location) -> list[str]:
    """Names of the entries directly in folder `location` (empty when there is none)."""
    return _fs(location).list_names(location)


def list_dirs(location: Location) -> list[str]:
    """Names of the folders directly in folder `location` (empty when there is none)."""
    return _fs(location).list_dirs(location)


def open_text(location: Location) -> AbstractContextManager[IO[str]]:
    """The file at `location`, opened for reading text; FileNotFoundError when absent."""
    return _fs(location).open_text(location)


def read_text(location: Location) -> str:
    """The text of the file at `location`; FileNotFoundError when absent."""
    with open_text(location) as f:
        return f.read()


def create_if_absent(location: Location, text: str) -> bool:
    """Write a small file unless one is there already; True when this call wrote it."""
    return _fs(location).create_if_absent(location, text)


def mtime_ms(location: Location) -> int | None:
    """When the file at `location` was last written (ms since the epoch); None when absent."""
    return _fs(location).mtime_ms(location)


def delete(location: Location) -> None:
    """Remove a file or a whole folder; nothing when absent."""
    _fs(location).delete(location)


def mkdirs(location: Location) -> None:
    """Make folder `location` and its parents (no-op on S3)."""
    _fs(location).mkdirs(location)


def rename(source: Location, target: Location) -> None:
    """Move a file or folder; atomic on a local disk, a copy then a delete on S3."""
    _fs(source).rename(source, target)


def sibling(location: Location, name: str) -> Location:
    """The location named `name` in the same folder as `location`."""
    if not _is_remote(location):
        return Path(_local(location)).with_name(name)
    parent = str(location).rstrip("/").rsplit("/", 1)[0]
    return LakeUri(f"{parent}/{name}", getattr(location, "store", None))


def located(value: Location, store: S3Settings | None = None) -> Location:
    """A location given on a command line: a URI as written (reached through `store`, the
    profile's S3 endpoint), a Path otherwise; pathlib would collapse a URI's `//`."""
    text = os.fspath(value)
    return LakeUri(text, store) if _is_remote(text) else Path(text)


def resolved(location: Location) -> Location:
    """An absolute location: a local path resolved, a URI as it is."""
    return location if _is_remote(location) else Path(_local(location)).resolve()
