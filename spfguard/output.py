"""Where a command's output goes: standard output, or a file written whole (a temporary file renamed into place,
so a failed run never leaves half a report)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from spfguard.errors import UserError
from spfguard.textsafe import use_color


class Output:
    def __init__(self, path: Path | None, option: str = "--output"):
        self.path = path
        self.option = option
        self._tmp: Path | None = None
        self._fh: TextIO | None = None
        if path is not None:
            if path.is_dir():
                raise UserError(f"{option} {path}: is a directory; give a file name")
            if not path.parent.exists():
                raise UserError(f"{option} {path}: the folder {path.parent} does not exist")

    @property
    def color(self) -> bool:
        return self.path is None and use_color(sys.stdout)

    def __enter__(self) -> Output:
        if self.path is not None:
            self._tmp = self.path.with_name(f".{self.path.name}.spfguard-tmp")
            try:
                self._fh = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
            except OSError as err:
                raise UserError(f"{self.option} {self.path}: {err.strerror}") from None
        return self

    def write(self, text: str) -> None:
        if not text:
            return
        if self._fh is not None:
            self._fh.write(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()

    def __exit__(self, kind, value, tb) -> None:
        if self._fh is None or self._tmp is None or self.path is None:
            return
        self._fh.close()
        if kind is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
