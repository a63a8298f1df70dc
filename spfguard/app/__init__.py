"""The application layer: one function per use case — check, evaluate, plan a fix, apply a plan, roll back,
senders, the monitor's run, status, history, report and digest, the connector's plan, validation and check, the
sender ranges, the inventory. Each takes typed inputs (the :class:`~spfguard.config.Config` loaded once, a DNS
client, options) and returns a result object; none prints. The command line (:mod:`spfguard.cli`) parses, calls
one of these, renders the result through :mod:`spfguard.report` and maps it to an exit code — as octoDNS's
``cmds/`` sit over its ``Manager``. Stores, providers, SMTP and HTTP are reached from here and below, never from
the CLI."""
