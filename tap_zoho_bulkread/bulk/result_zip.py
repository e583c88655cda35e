"""A downloaded result zip -> its one member, as bytes, refused if it could hurt the reader.

Zoho's result is a plain deflated zip holding one ``{job_id}.csv`` (or ``.ics``). What else a
broken or hostile server could send (several members, a path as a name, encryption, exotic
compression, a zip bomb) is refused with one line before or while it is read.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

from tap_zoho_bulkread.errors import ExportFileError

MAX_INFLATION = 200  # a CSV compresses about 10x; a zip bomb thousands of times
MIN_INFLATION_ALLOWANCE = 256 * 1024 * 1024
ENCRYPTED_FLAG = 0x1  # bit 0 of a zip entry's general purpose flags
DAMAGED_ZIP = (zipfile.BadZipFile, zlib.error, EOFError)


def damaged_zip(stream: str, job_id: str, where: str) -> ExportFileError:
    """The error for a zip that breaks off while it is read."""
    return ExportFileError(
        f"{stream}: the result of job {job_id} is a damaged zip (it breaks off {where}). "
        "Run the sync again."
    )


@contextmanager
def result_member(path: Path, job_id: str, stream: str, extension: str) -> Iterator[IO[bytes]]:
    """The bytes of the one ``.{extension}`` file in a result zip, inflation bounded."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise ExportFileError(
            f"{stream}: the result of job {job_id} is not a valid zip file; run the "
            "sync again to download it anew."
        ) from None
    with archive:
        member = _member(archive, job_id, stream, extension)
        try:
            opened = archive.open(member)
        except (*DAMAGED_ZIP, OSError):  # a member header past the end of a cut file
            raise damaged_zip(stream, job_id, "before its first byte") from None
        with io.BufferedReader(_InflationGuard(opened, member.compress_size)) as raw:
            yield raw


def _member(archive: zipfile.ZipFile, job_id: str, stream: str, extension: str) -> zipfile.ZipInfo:
    kind = extension.upper()
    members = archive.infolist()
    if len(members) != 1:
        raise ExportFileError(
            f"{stream}: the result of job {job_id} holds {len(members)} files, "
            f"Zoho sends exactly one {kind}"
        )
    name = members[0].filename
    if PurePosixPath(name).name != name or "\\" in name or not name.endswith(f".{extension}"):
        raise ExportFileError(
            f"{stream}: the result of job {job_id} holds {name[:80]!r}, not a plain {kind} name"
        )
    member = members[0]
    encrypted = member.flag_bits & ENCRYPTED_FLAG
    if encrypted or member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        how = "it is encrypted" if encrypted else f"compression method {member.compress_type}"
        raise ExportFileError(
            f"{stream}: the result of job {job_id} cannot be unzipped ({how}); Zoho "
            "sends a plain deflated zip. Run the sync again."
        )
    return member


class _InflationGuard(io.RawIOBase):
    """A zip member's bytes, refused once they inflate far beyond any real CSV's ratio."""

    def __init__(self, member: IO[bytes], compressed: int) -> None:
        super().__init__()
        self.member = member
        self.allowance = max(compressed * MAX_INFLATION, MIN_INFLATION_ALLOWANCE)
        self.inflated = 0

    def readable(self) -> bool:
        """Always: this is a reader."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the member, counting what it inflates to."""
        chunk = self.member.read(len(buffer))
        self.inflated += len(chunk)
        if self.inflated > self.allowance:
            raise ExportFileError(
                f"the result zip inflates past {self.allowance // 2**20} MiB, over "
                f"{MAX_INFLATION} times its compressed size: a zip bomb, not an export. "
                "Run the sync again; if it repeats, report it to Zoho."
            )
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        """Close the member too."""
        self.member.close()
        super().close()
