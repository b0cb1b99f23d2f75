"""Data directory resolution, checksum verification and downloads.

Every real dataset is described by a :class:`DatasetFiles` record: the files
it needs, their sha256 and the official URL of each. :func:`ensure_files`
verifies what is present, downloads what is missing (where the network
allows) and otherwise raises one :class:`DatasetNotFoundError` that names the
dataset, the files, where they come from and how to point the loader at them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from typing import Callable, Sequence

DATA_DIR_ENV = "AMTFL_TF_DATA_DIR"
_CHUNK = 1 << 20


class DatasetError(RuntimeError):
    """Base class of the dataset errors raised by :mod:`amtfl_tf.datasets`."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The dataset's files are absent and could not be downloaded."""


class ChecksumError(DatasetError):
    """A dataset file exists but its content is not the published file."""


@dataclasses.dataclass(frozen=True)
class FileSpec:
    """One file of a dataset: its name, sha256, size in bytes and URL."""

    name: str
    sha256: str
    size: int | None = None
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class DatasetFiles:
    """The files one dataset needs, inside ``<data_dir>/<subdir>/``."""

    dataset: str
    subdir: str
    files: tuple[FileSpec, ...]
    source: str  # one line: where the files officially come from

    def spec(self, name: str) -> FileSpec:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(f"{self.dataset} has no file {name!r}")


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/amtfl_tf/data`` (``~/.cache/amtfl_tf/data``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "amtfl_tf", "data")


def tfds_cache_dir() -> str:
    """Where tensorflow-datasets builds go: ``<cache>/amtfl_tf/tfds``,
    never inside the data directory (which may be shared or read-only)."""
    return os.path.join(os.path.dirname(default_cache_dir()), "tfds")


def host_reachable(url: str, timeout: float = 5.0) -> bool:
    """Whether ``url``'s host accepts a TCP connection (fails fast when
    offline, instead of a library's retry loop)."""
    import socket
    import urllib.parse

    parts = urllib.parse.urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout):
            return True
    except OSError:
        return False


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> str:
    """The data directory: ``data_dir``, else ``$AMTFL_TF_DATA_DIR``, else
    the user cache directory. Relative paths are taken from the current
    working directory."""
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(
            f"data_dir must be a path or None. Received: data_dir={data_dir!r}"
        )
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or default_cache_dir()
    return os.path.abspath(os.path.expanduser(os.fspath(chosen)))


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: str, spec: FileSpec, dataset: str,
                also_accept: Sequence[str] = ()) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the expected sha256.

    ``also_accept`` lists further sha256 values that are valid for this file
    (e.g. a copy this package converted itself from verified sources).
    """
    size = os.path.getsize(path)
    got = sha256_of(path)
    if got == spec.sha256 or got in also_accept:
        return
    size_note = ""
    if spec.size is not None and size != spec.size:
        size_note = f" Its size is {size} bytes; expected {spec.size}."
    raise ChecksumError(
        f"{dataset}: file {path} is corrupt or not the published file: "
        f"sha256 {got}, expected {spec.sha256}.{size_note} Delete it and "
        f"re-download it (or copy a good one) from "
        f"{spec.url or 'its official source'}."
    )


def download(url: str, dest: str, expected_sha256: str | None = None,
             timeout: float = 60.0, progress: bool = True) -> None:
    """Download ``url`` to ``dest`` atomically, verifying its sha256.

    The file is written to a temporary name in the destination directory and
    renamed only once complete and verified, so an interrupted download never
    leaves a partial file under the final name.
    """
    folder = os.path.abspath(os.path.dirname(dest) or ".")
    created = []  # folders made here, deepest first: removed on failure
    p = folder
    while not os.path.exists(p):
        created.append(p)
        p = os.path.dirname(p)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".download-", dir=folder)
    h = hashlib.sha256()
    ok = False
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(
                url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                out.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if progress and total:
                    print(f"\r[download] {os.path.basename(dest)} "
                          f"{100 * done // total:3d}%", end="", flush=True)
            if progress and total:
                print(flush=True)
        if expected_sha256 is not None and h.hexdigest() != expected_sha256:
            raise ChecksumError(
                f"download of {url} has sha256 {h.hexdigest()}, expected "
                f"{expected_sha256}; the file was not kept."
            )
        os.replace(tmp, dest)
        ok = True
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        if not ok:  # a failed download leaves no empty folder behind
            for p in created:
                try:
                    os.rmdir(p)
                except OSError:
                    break


def missing_message(files: DatasetFiles, folder: str,
                    missing: Sequence[str], reason: str | None) -> str:
    lines = [
        f"Dataset {files.dataset!r} not found: missing "
        f"{', '.join(missing)} in {folder}.",
        f"Expected files in <data_dir>/{files.subdir}/: "
        + ", ".join(f.name for f in files.files) + ".",
        f"They come from: {files.source}",
    ]
    urls = [f"  {f.name}: {f.url}" for f in files.files if f.url]
    if urls:
        lines.append("Official URLs:")
        lines.extend(urls)
    if reason:
        lines.append(f"Automatic download failed: {reason}")
    lines.append(
        "Put the files there, or point the loader at a folder that has them "
        f"with --data_dir=<dir> or {DATA_DIR_ENV}=<dir> (the dataset goes "
        f"in <dir>/{files.subdir}/).")
    return "\n".join(lines)


Fetcher = Callable[[str], None]


def ensure_files(files: DatasetFiles, data_dir: str | None = None,
                 download_missing: bool = True,
                 fetch: Fetcher | None = None,
                 also_accept: dict[str, Sequence[str]] | None = None) -> str:
    """Make sure every file of ``files`` is present and verified.

    Args:
      files: the dataset's file list.
      data_dir: see :func:`resolve_data_dir`.
      download_missing: try to download absent files from their URLs.
      fetch: optional callable ``fetch(folder)`` that produces the missing
        files another way (e.g. downloading and converting archives). Called
        instead of per-file downloads when given.
      also_accept: extra valid sha256 values per file name.

    Returns:
      The dataset folder ``<data_dir>/<subdir>``.

    Raises:
      DatasetNotFoundError: files are missing and could not be obtained.
      ChecksumError: a present file does not match its sha256.
    """
    folder = os.path.join(resolve_data_dir(data_dir), files.subdir)
    also_accept = also_accept or {}
    missing = [f.name for f in files.files
               if not os.path.exists(os.path.join(folder, f.name))]
    if missing:
        reason = None
        if not download_missing:
            reason = "downloading is disabled (download=False)"
        else:
            try:
                if fetch is not None:
                    fetch(folder)
                else:
                    for name in missing:
                        spec = files.spec(name)
                        if spec.url is None:
                            raise DatasetError(f"no URL known for {name}")
                        print(f"[{files.dataset}] downloading {spec.url}",
                              flush=True)
                        download(spec.url, os.path.join(folder, name),
                                 spec.sha256)
            except (OSError, urllib.error.URLError, DatasetError) as e:
                reason = f"{type(e).__name__}: {e}"
        still = [f.name for f in files.files
                 if not os.path.exists(os.path.join(folder, f.name))]
        if still:
            raise DatasetNotFoundError(
                missing_message(files, folder, still, reason))
    also_accept = {**also_accept, **_converted_hashes(folder)}
    for f in files.files:
        verify_file(os.path.join(folder, f.name), f, files.dataset,
                    also_accept.get(f.name, ()))
    return folder


CONVERTED_MANIFEST = "CONVERTED.sha256"


def write_converted_manifest(folder: str, names: Sequence[str]) -> None:
    """Record the sha256 of files this package produced by conversion from
    checksum-verified official archives, so later loads accept them even if
    the bytes differ from a published copy (e.g. another zlib version)."""
    lines = [f"{sha256_of(os.path.join(folder, n))}  {n}\n" for n in names]
    tmp = os.path.join(folder, CONVERTED_MANIFEST + ".tmp")
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.replace(tmp, os.path.join(folder, CONVERTED_MANIFEST))


def _converted_hashes(folder: str) -> dict[str, tuple[str, ...]]:
    path = os.path.join(folder, CONVERTED_MANIFEST)
    if not os.path.exists(path):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                out[parts[1]] = out.get(parts[1], ()) + (parts[0],)
    return out
