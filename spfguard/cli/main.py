"""Entry point: ``spfguard``. Heavy modules (provider SDKs, checkdmarc) are imported by the commands that
need them, never here. Errors are mapped to exit codes in one place: :func:`main`."""

from __future__ import annotations

import gc
import os
import sys

import typer

from spfguard import __version__
from spfguard.cli import help as _help  # noqa: F401 - plain metavars in help and usage
from spfguard.cli.lazy import LazyGroup
from spfguard.errors import ExitCode, SpfguardError
from spfguard.redact import redact
from spfguard.textsafe import safe

app = typer.Typer(
    cls=LazyGroup,  # each command's module is imported when that command runs (spfguard.cli.lazy.COMMANDS)
    rich_markup_mode=None,
    name="spfguard",
    help="Audit, repair and watch SPF records (RFC 7208).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        from spfguard.provider.registry import plugin_versions

        typer.echo(f"spfguard {__version__} (Python {sys.version.split()[0]})")
        for name, dist, version in plugin_versions():
            typer.echo(f"  provider {name}: " + ("built in" if dist == "spfguard" else f"{dist} {version}"))
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Audit, repair and watch SPF records (RFC 7208)."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI. A mistake is one line on stderr with its exit code (the class's ``exit_code``: 2 bad input,
    3 could not complete, 1 provider or plan errors); exit 70 only for a bug, never a traceback unless
    SPFGUARD_DEBUG=1."""
    from spfguard import logs

    logs.configure()
    try:
        code = app(args=argv, prog_name="spfguard", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except SpfguardError as err:
        typer.echo(f"spfguard: error: {safe(redact(err))}", err=True)
        return err.exit_code
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("spfguard: interrupted", err=True)
        return 130
    except BrokenPipeError:  # `spfguard check … | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except typer.TyperException as err:  # the command-line parser's own errors: one line, and where to read more
        ctx = getattr(err, "ctx", None)
        if type(err).__name__ == "NoArgsIsHelpError":
            getattr(err, "show")()  # noqa: B009 - the help text, as `spfguard CMD` with no arguments asks for
            return err.exit_code
        see = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        typer.echo(f"spfguard: error: {safe(err.format_message())}{see}", err=True)
        return err.exit_code
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if os.environ.get("SPFGUARD_DEBUG"):
            raise
        typer.echo(f"spfguard: internal error: {type(err).__name__}: {safe(redact(err))} — this is a bug; please "
                   "report it (set SPFGUARD_DEBUG=1 for the traceback)", err=True)
        return ExitCode.BUG
    return code if isinstance(code, int) else ExitCode.OK


def run() -> int:
    """The ``spfguard`` program: :func:`main`, then an exit without CPython's final collections. The objects of
    the run are left to the process's end (``gc.freeze``): walking them all again cost ~80 ms of every run once
    checkdmarc was loaded (issue #25). Files and the store are closed by the commands themselves; atexit handlers
    and module teardown still run."""
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(run())
