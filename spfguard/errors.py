"""Errors shared by the core and the CLI."""


class UserError(Exception):
    """Bad input (arguments, files, configuration): reported as one line, exit code 2."""
