"""Exit codes, and one root for spfguard's errors; the exit code is on the class (as click's
``ClickException.exit_code``) and the CLI maps it in one place (``spfguard.cli.main``). Messages are one line a
person can act on and never hold a secret. Exit 70 is left for genuine bugs: anything that is not an
:class:`SpfguardError`."""

from enum import IntEnum


class ExitCode(IntEnum):
    """The README's table of exit codes."""

    OK = 0
    FINDINGS = 1  # findings at or above --fail-on; a non-pass result for eval; a provider or plan error
    USAGE = 2  # bad arguments or input (also the command-line parser's own usage errors)
    INCOMPLETE = 3  # could not complete: DNS temporary failures, a network step that timed out
    BUG = 70  # EX_SOFTWARE: an internal error — please report it


class SpfguardError(Exception):
    """A failure the user can do something about; exit code 1 unless a subclass says otherwise."""

    exit_code: int = ExitCode.FINDINGS


class UserError(SpfguardError):
    """Bad input (arguments, files, configuration): exit code 2."""

    exit_code = ExitCode.USAGE


class IncompleteError(SpfguardError):
    """The work could not be completed for a temporary reason (DNS, network, a busy lock): exit code 3."""

    exit_code = ExitCode.INCOMPLETE


class ProviderError(SpfguardError):
    """A DNS provider failed or refused (wrong credentials, no zone, a conflict): exit code 1."""


class PlanError(SpfguardError):
    """The record set cannot be fixed automatically; the message says why and what to do: exit code 1."""


def first_line(err: BaseException, default: str | None = None, limit: int = 200) -> str:
    """What a third-party exception says, fit for a one-line message: its first line, cut at ``limit``; when it
    says nothing, ``default`` (else its type's name)."""
    lines = str(err).strip().splitlines()
    return lines[0][:limit] if lines else default or type(err).__name__
