"""Exchange Online outbound connector + transport rule: model, PowerShell and admin-center rendering,
smart-host validation (as Exchange's own validation does it), and the tie-in with SPF and allow-lists."""
