"""``spfguard connector``: plan, validate and check an Exchange Online outbound connector + transport rule."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from spfguard.cli.common import Exit, NameserverOption, RetriesOption, TimeoutOption, UserError, ZoneOption, make_dns
from spfguard.config import load_toml
from spfguard.connector.model import Connector, parse_connector, parse_smart_host, parse_tls
from spfguard.report.escape import safe

app = typer.Typer(
    rich_markup_mode=None,
    help="Exchange Online outbound connector and transport rule: plan, validate, check.",
    no_args_is_help=True,
)
ConfigArg = Annotated[Path | None, typer.Option("--config", "-c", metavar="FILE", help="The connector's TOML file "
                                                "(see examples/connector.toml).")]


class PlanFormat(StrEnum):
    powershell = "powershell"
    checklist = "checklist"
    json = "json"


class Format(StrEnum):
    table = "table"
    json = "json"


def _load(config: Path | None) -> Connector:
    if config is None:
        raise UserError("--config FILE is required")
    return parse_connector(load_toml(config, "connector file"), str(config))


@app.command("plan")
def plan(config: ConfigArg = None,
         fmt: Annotated[PlanFormat, typer.Option("--format", "-f", metavar="FORMAT",
                                                 help="powershell, checklist or json.")] = PlanFormat.powershell,
         ) -> None:
    """The connector and rule as an idempotent PowerShell script, admin-center steps, or JSON."""
    from spfguard.connector import render

    connector = _load(config)
    if fmt is PlanFormat.json:
        typer.echo(json.dumps(connector.to_json(), indent=2))
    elif fmt is PlanFormat.checklist:
        typer.echo(render.checklist(connector), nl=False)
    else:
        typer.echo(render.powershell(connector), nl=False)


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
    fmt: Annotated[Format, typer.Option("--format", "-f", metavar="FORMAT", help="table or json.")] = Format.table,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """Check each smart host as Exchange's connector validation does, and say why a step fails."""
    from spfguard.connector.smtpcheck import Options
    from spfguard.connector.smtpcheck import validate as run_validation

    if config is not None:
        connector = _load(config)
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
    options = Options(tls_setting, smtp_timeout, helo, str(ca_file) if ca_file else None, "", send_test)
    checks = asyncio.run(run_validation(hosts, recipients, options, make_dns(zone, nameserver, timeout, retries)))
    if fmt is Format.json:
        typer.echo(json.dumps({"version": 1, "tls": str(tls_setting), "checks": [c.to_json() for c in checks]},
                              indent=2))
    else:
        from tabulate import tabulate

        rows = [[safe(c.title), c.status, safe(c.reason or "")] for c in checks]
        typer.echo(tabulate(rows, headers=["Check", "Status", "Reason"], maxcolwidths=[None, None, 80]))
    raise typer.Exit(Exit.OK if all(c.ok for c in checks) else Exit.FINDINGS)


@app.command("check")
def check(
    config: ConfigArg = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", metavar="FORMAT", help="table or json.")] = Format.table,
    zone: ZoneOption = None,
    nameserver: NameserverOption = None,
    timeout: TimeoutOption = 2.0,
    retries: RetriesOption = 2,
) -> None:
    """For the rule's domains: is Exchange Online authorised in SPF, do the smart hosts fit the MX, and the
    allow-lists the receiving platforms need."""
    from spfguard.audit import audit
    from spfguard.connector.consistency import allowlist_targets, check_domain

    connector = _load(config)
    dns = make_dns(zone, nameserver, timeout, retries)

    async def run():
        return await asyncio.gather(*(audit(d, dns, expect=["microsoft365"]) for d in connector.domains))

    results = [check_domain(connector, report) for report in asyncio.run(run())]
    from spfguard.vendors import allowlist as exports
    from spfguard.vendors.msendpoints import EndpointsClient

    data = EndpointsClient().load("Worldwide", offline=bool(zone))
    networks = data.exchange_smtp_networks()
    note = data.age_note()
    if note and fmt is Format.table:
        typer.echo(f"note: {note}", err=True)
    lists = {t: [str(n) for n in exports.for_target(t, networks)] for t in allowlist_targets(connector)}
    findings = [f for r in results for f in r.findings]
    if fmt is Format.json:
        typer.echo(json.dumps({"version": 1, "connector": connector.name, "domains": [
            {"domain": r.domain, "exchange_online_in_spf": r.spf, "missing": r.missing, "mx": r.mx,
             "mx_platforms": r.mx_platforms, "findings": [f.to_json() for f in r.findings]} for r in results],
            "allowlists": lists}, indent=2))
    else:
        from tabulate import tabulate

        rows = [[r.domain, r.spf, ", ".join(r.mx_platforms) or safe(", ".join(r.mx)) or "(no MX)"] for r in results]
        typer.echo(tabulate(rows, headers=["domain", "Exchange Online in SPF", "MX platform"]))
        if findings:
            typer.echo("")
            typer.echo(tabulate([[f.severity, f.code, safe(f.message)] for f in findings],
                                headers=["severity", "code", "message"], maxcolwidths=[None, None, 90]))
        for target, ranges in lists.items():
            console = "Mimecast: Source IP Ranges" if target == "mimecast" else "Google Workspace: inbound gateway / " \
                "IP allowlist"
            typer.echo(f"\nAllow-list Exchange Online at {console} ({len(ranges)} ranges; "
                       f"`spfguard ranges allowlist --for {target}`):")
            typer.echo("\n".join(f"  {r}" for r in ranges))
    raise typer.Exit(Exit.FINDINGS if any(f.severity == "error" for f in findings) else Exit.OK)
