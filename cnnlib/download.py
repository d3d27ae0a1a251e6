"""Checksum-verified, atomic downloads.

A download streams into a temporary file beside its destination, hashes what it
receives, and only renames it into place once the size and the sha256 match.
An interrupted or rejected download therefore never leaves a partial file.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .errors import ChecksumMismatchError, DownloadError

CHUNK = 1 << 20


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks (``algorithm``: 'sha256' or 'md5')."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify_file(path: str | os.PathLike, expected: str, algorithm: str = "sha256") -> None:
    """Raise ChecksumMismatchError unless ``path`` has the ``expected`` hex digest."""
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise ChecksumMismatchError(
            f"{Path(path).name}: {algorithm} is {actual}, expected {expected}. The file is "
            f"corrupt, truncated or a different version. Delete it and download it again."
        )


def fetch(url: str, dest: str | os.PathLike, sha256: str, *, timeout: float = 60.0,
          progress: bool = True) -> Path:
    """Download ``url`` to ``dest``, verified against ``sha256``, atomically.

    Returns the destination path. Raises DownloadError when the server cannot be
    reached or the transfer stops early, and ChecksumMismatchError when the bytes
    received do not match; in both cases nothing is left at ``dest``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        received = 0
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0)
                shown = -1
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    h.update(block)
                    received += len(block)
                    if progress and total:
                        pct = received * 100 // total
                        if pct // 10 != shown:
                            shown = pct // 10
                            print(f"  downloading {dest.name}: {pct:3d}% of {total / 1e6:.1f} MB", flush=True)
        except (urllib.error.URLError, OSError) as exc:
            raise DownloadError(
                f"Could not download {url}: {getattr(exc, 'reason', exc)}. Check your internet "
                f"connection, or copy the file by hand to {dest} (or to the folder named by "
                f"CNNLIB_DATA_DIR)."
            ) from exc
        if total and received != total:
            raise DownloadError(
                f"Download of {url} stopped after {received:,} of {total:,} bytes; nothing was "
                f"kept. Run again to retry."
            )
        digest = h.hexdigest()
        if digest != sha256.lower():
            raise ChecksumMismatchError(
                f"Downloaded {url} but its sha256 is {digest}, expected {sha256}. The file was "
                f"discarded. The server may have sent an error page or a changed file; try again "
                f"later or copy a verified copy to {dest}."
            )
        os.replace(tmp, dest)
        return dest
    finally:
        if tmp.exists():
            tmp.unlink()
