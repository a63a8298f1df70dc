"""Reading the text files a user hands spfguard (zone files, configs, domain lists, exports): UTF-8, with a
one-line error that names the file and says what to do when it is not."""

from __future__ import annotations

from pathlib import Path

from spfguard.errors import UserError

MAX_BYTES = 64 * 1024 * 1024  # a domain list of a million names is ~20 MB; anything far larger is a mistake
_BOMS = ((b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def read_text(path: Path, what: str, *, encodings: tuple[str, ...] = ("utf-8",)) -> str:
    """The file's text; a UTF-8 byte-order mark is dropped. Other encodings are tried in order when given
    (e.g. an export from a Windows tool), else a non-UTF-8 file is an error naming the first bad byte."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise UserError(f"{what} {path}: {size:,} bytes is too large (at most {MAX_BYTES:,})")
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{what} {path}: is a directory, not a file") from None
    except OSError as err:
        raise UserError(f"{what} {path}: {err.strerror or err}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    utf16 = data.startswith(tuple(bom for bom, _ in _BOMS))
    if b"\x00" in data and not utf16:
        raise UserError(f"{what} {path}: a binary file, not text")
    for encoding in encodings:
        if encoding.lower().startswith("utf-16") and not utf16:
            continue  # only with its byte-order mark: any even-length byte string decodes as UTF-16
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        hint = " (it is UTF-16: save it as UTF-8)" if utf16 else " (save it as UTF-8)"
        raise UserError(f"{what} {path}: not UTF-8 text: byte 0x{data[err.start]:02x} at offset {err.start}"
                        f"{hint}") from None
