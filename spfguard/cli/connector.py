"""``spfguard connector``: plan, validate and check an Exchange Online outbound connector + transport rule."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spfguard.cli.common import (
    NameserverOption,
    RetriesOption,
    TimeoutOption,
    ZoneOption,
    dns_options,
    format_option,
    render,
)
from spfguard.errors import ExitCode, UserError

app = typer.Typer(
    rich_markup_mode=None,
    help="Exchange Online outbound connector and transport rule: plan, validate, check.",
    no_args_is_help=True,
)
ConfigArg = Annotated[Path | None, typer.Option("--config", "-c", metavar="FILE", help="The connector's TOML file "
                                                "(see examples/connector.toml).")]
PlanFormat = Annotated[str, format_option("connector-plan")]
ValidateFormat = Annotated[str, format_option("connector-validate")]
CheckFormat = Annotated[str, format_option("connector-check")]


@app.command("plan")
def plan(config: ConfigArg = None, fmt: PlanFormat = "powershell") -> None:
    """The connector and rule as an idempotent PowerShell script, admin-center steps, or JSON."""
    from spfguard.app.connector import load_connector

    typer.echo(render("connector-plan", fmt, load_connector(config)), nl=False)


@app.command("validate")
def validate(
    config: ConfigArg = None,
    smart_host: Annotated[list[str] | None, typer.Option("--smart-host", metavar="HOST[:PORT]", help="A smart host "
                                                         "(repeatable) instead of the config's.")] = None,
    tls: Annotated[str | None, typer.Option("--tls", metavar="SETTING",
                                            help="any, ca or domain:*.contoso.com.")] = None,
    recipient: Annotated[list[str] | None, typer.Option("--recipient", metavar="ADDRESS", help="Validation "
                                                        "recipient (repeatable).")] = None,
    port: Annotated[int | None, typer.Option("--port", metavar="PORT", help="SMTP port for hosts given without one "
                                             "(default 25).", min=1, max=65535)] = None,
    smtp_timeout: Annotated[float, typer.Option("--smtp-timeout", metavar="SECONDS", min=0.5, max=300,
                                                help="Total seconds for each SMTP step (0.5 to 300).")] = 10.0,
    helo: Annotated[str, typer.Option("--helo", metavar="NAME", help="Name to greet with.")] = "spfguard.invalid",
    ca_file: Annotated[Path | None, typer.Option("--ca-file", metavar="FILE", help="Trust these CA certificates "
                                                 "instead of the system's.")] = None,
    send_test: Annotated[bool, typer.Option("--send-test", help="Send a real test message to each "
                                            "recipient (default: RCPT TO, then QUIT).")] = False,
    fmt: ValidateFormat = "table",
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Check each smart host as Exchange's connector validation does, and say why a step fails."""
    from spfguard.app.connector import load_connector
    from spfguard.app.connector import validate as run_validation
    from spfguard.connector.model import parse_smart_host, parse_tls

    if config is not None:
        connector = load_connector(config)
        hosts, tls_setting, recipients = connector.smart_hosts, connector.tls, connector.validation_recipients
    elif smart_host:
        hosts, tls_setting, recipients = [], parse_tls(tls or "any", "--tls"), []
    else:
        raise UserError("give --config FILE or at least one --smart-host HOST")
    if smart_host:
        hosts = [parse_smart_host(h, "--smart-host") for h in smart_host]
    if tls is not None:
        tls_setting = parse_tls(tls, "--tls")
    if recipient is not None:
        recipients = recipient
    if port is not None:
        hosts = [type(h)(h.host, port) if h.port == 25 else h for h in hosts]
    found = run_validation(hosts, recipients, tls_setting, dns_options(zone, nameserver, timeout, retries),
                           smtp_timeout=smtp_timeout, helo=helo, ca_file=str(ca_file) if ca_file else None,
                           send_test=send_test)
    typer.echo(render("connector-validate", fmt, found), nl=False)
    raise typer.Exit(ExitCode.OK if found.ok else ExitCode.FINDINGS)


@app.command("check")
def check(
    config: ConfigArg = None,
    fmt: CheckFormat = "table",
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """For the rule's domains: is Exchange Online authorised in SPF, do the smart hosts fit the MX, and the
    allow-lists the receiving platforms need."""
    from spfguard.app.connector import check as check_connector
    from spfguard.app.connector import load_connector

    found = check_connector(load_connector(config), dns_options(zone, nameserver, timeout, retries))
    if found.note and fmt == "table":
        typer.echo(f"note: {found.note}", err=True)
    typer.echo(render("connector-check", fmt, found), nl=False)
    raise typer.Exit(ExitCode.FINDINGS if any(f.severity == "error" for f in found.findings) else ExitCode.OK)
