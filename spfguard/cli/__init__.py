"""The command line: one module per command group; parse, call the application layer, render, exit code.

A dependency's warning (say ``CryptographyDeprecationWarning``, printed when a newer cryptography meets an older
dnspython) is not the user's concern and would make every cron run mail: warnings are silenced here, before any
dependency is imported, unless ``SPFGUARD_DEBUG`` is set (``spfguard.logs`` keeps it so for the whole run)."""

import os
import warnings

if not os.environ.get("SPFGUARD_DEBUG"):
    warnings.simplefilter("ignore")
