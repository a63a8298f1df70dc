"""DMARC aggregate reports (RFC 7489 appendix C) for the fixtures, as receivers send them: plain XML, ``.xml.gz``,
``.zip`` and whole ``.eml`` messages with the report attached. ``python -m tests.support.dmarc_reports DIR`` writes
the set in ``fixtures/dmarc/``; tests build odd ones with :func:`report_xml`.

The scenario (aacn.org, two days, two reporting organisations): Microsoft 365 and Google Workspace send and are
authorised; SendGrid (its fixture range, 198.18.2.0/24) sends and is not; the docebosaas.com host the record
authorises sends; 192.0.2.99 spoofs; Mimecast (US), included by the record, sends nothing."""

from __future__ import annotations

import calendar
import gzip
import hashlib
import io
import sys
import zipfile
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape

DAY = 86400
START = calendar.timegm((2026, 11, 16, 0, 0, 0))

# (ip, count, spf seen, dkim (as DMARC evaluated), aligned dkim)
GOOGLE_DAY1 = [("40.107.22.53", 60, "pass", "pass"), ("209.85.220.41", 150, "pass", "pass"),
               ("198.18.2.20", 20, "softfail", "pass"), ("192.0.2.99", 3, "fail", "fail"),
               ("198.51.100.10", 12, "pass", "fail")]
GOOGLE_DAY2 = [("40.107.22.54", 55, "pass", "pass"), ("209.85.220.42", 140, "pass", "pass"),
               ("198.18.2.21", 22, "softfail", "pass")]
OUTLOOK_DAY1 = [("40.107.74.12", 40, "pass", "pass"), ("209.85.220.41", 30, "pass", "pass"),
                ("198.18.2.20", 5, "softfail", "pass"), ("192.0.2.99", 1, "fail", "fail")]
OUTLOOK_DAY2 = [("40.107.74.13", 35, "pass", "pass"), ("209.85.218.10", 25, "pass", "pass"),
                ("198.51.100.10", 6, "pass", "fail")]


def report_xml(org: str, email: str, report_id: str, begin: int, end: int, rows, domain: str = "aacn.org",
               policy: str = "none") -> str:
    records = []
    for ip, count, spf, dkim in rows:
        spf_eval = "pass" if spf == "pass" else "fail"
        records.append(f"""  <record>
    <row>
      <source_ip>{escape(ip)}</source_ip>
      <count>{count}</count>
      <policy_evaluated><disposition>none</disposition><dkim>{dkim}</dkim><spf>{spf_eval}</spf></policy_evaluated>
    </row>
    <identifiers><header_from>{domain}</header_from></identifiers>
    <auth_results>
      <dkim><domain>{domain}</domain><selector>s1</selector><result>{dkim}</result></dkim>
      <spf><domain>{domain}</domain><scope>mfrom</scope><result>{spf}</result></spf>
    </auth_results>
  </record>""")
    body = "\n".join(records)
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>{escape(org)}</org_name>
    <email>{escape(email)}</email>
    <report_id>{escape(report_id)}</report_id>
    <date_range><begin>{begin}</begin><end>{end}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>{policy}</p><sp>{policy}</sp><pct>100</pct>
  </policy_published>
{body}
</feedback>
"""


def file_name(org: str, domain: str, begin: int, end: int) -> str:
    return f"{org}!{domain}!{begin}!{end}"  # the name receivers give the attachment (RFC 7489 §7.2.1.1)


def as_eml(attachment: bytes, filename: str, org: str, sender: str, subtype: str = "gzip") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "dmarc-reports@aacn.org"
    message["Subject"] = f"Report Domain: aacn.org Submitter: {org} Report-ID: <{filename}>"
    message["Date"] = "Tue, 18 Nov 2026 06:12:00 +0000"
    message["Message-ID"] = f"<{hashlib.sha1(filename.encode()).hexdigest()[:16]}@{org}>"
    message.set_content(f"This is an aggregate report from {org}.")
    message.add_attachment(attachment, maintype="application", subtype=subtype, filename=filename)
    return bytes(message)


def write_fixtures(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    g1 = report_xml("google.com", "noreply-dmarc-support@google.com", "1447253416589112601", START,
                    START + DAY - 1, GOOGLE_DAY1)
    g2 = report_xml("google.com", "noreply-dmarc-support@google.com", "1447253416589112602", START + DAY,
                    START + 2 * DAY - 1, GOOGLE_DAY2)
    o1 = report_xml("Enterprise Outlook", "dmarcreport@microsoft.com", "7d3a2f1e0c9b4a8d9e1f2a3b4c5d6e7f",
                    START, START + DAY - 1, OUTLOOK_DAY1)
    o2 = report_xml("Enterprise Outlook", "dmarcreport@microsoft.com", "8e4b3a2f1d0c5b9e0f2a3b4c5d6e7f80",
                    START + DAY, START + 2 * DAY - 1, OUTLOOK_DAY2)
    written = []

    def write(name: str, data: bytes) -> None:
        (directory / name).write_bytes(data)
        written.append(directory / name)

    write(file_name("google.com", "aacn.org", START, START + DAY - 1) + ".xml", g1.encode())
    write(file_name("google.com", "aacn.org", START + DAY, START + 2 * DAY - 1) + ".xml.gz",
          gzip.compress(g2.encode(), mtime=0))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(file_name("enterprise.protection.outlook.com", "aacn.org", START, START + DAY - 1)
                               + ".xml", date_time=(2026, 11, 17, 6, 0, 0))
        archive.writestr(info, o1)
    write(file_name("enterprise.protection.outlook.com", "aacn.org", START, START + DAY - 1) + ".zip",
          buffer.getvalue())
    o2_name = file_name("enterprise.protection.outlook.com", "aacn.org", START + DAY, START + 2 * DAY - 1) + ".xml.gz"
    write("outlook-report-2026-11-18.eml", as_eml(gzip.compress(o2.encode(), mtime=0), o2_name,
                                                  "enterprise.protection.outlook.com", "dmarcreport@microsoft.com"))
    # the first Google report again, as the message that carried it: the same report, counted once
    g1_name = file_name("google.com", "aacn.org", START, START + DAY - 1) + ".xml.gz"
    write("google-report-2026-11-17.eml", as_eml(gzip.compress(g1.encode(), mtime=0), g1_name, "google.com",
                                                 "noreply-dmarc-support@google.com"))
    return written


if __name__ == "__main__":
    for path in write_fixtures(Path(sys.argv[1] if len(sys.argv) > 1 else "fixtures/dmarc")):
        print(path)
