"""Exchange Online cmdlets and the parameters they take, from Microsoft's reference pages
(MicrosoftDocs/office-docs-powershell: New-/Set-/Get-OutboundConnector, Validate-OutboundConnector,
New-/Set-/Get-TransportRule; transport-rule parameters as listed there). Only what spfguard may emit, plus the
common parameters. Used to check generated scripts at the parser level."""

COMMON = {"ErrorAction", "ErrorVariable", "WarningAction", "Verbose", "Debug", "Confirm", "WhatIf"}
OUTBOUND_CONNECTOR = {"AllAcceptedDomains", "CloudServicesMailEnabled", "Comment", "ConnectorSource",
                      "ConnectorType", "Enabled", "IsTransportRuleScoped", "RecipientDomains",
                      "RouteAllMessagesViaOnPremises", "SenderRewritingEnabled", "SmartHosts", "TestMode", "TlsDomain",
                      "TlsSettings", "UseMXRecord"}
TRANSPORT_RULE = {"Comments", "Enabled", "ExceptIfSenderDomainIs", "Mode", "Priority", "RecipientDomainIs",
                  "RouteMessageOutboundConnector", "RuleErrorAction", "SenderAddressLocation", "SetAuditSeverity",
                  "StopRuleProcessing", "SentToScope", "FromScope"}
CMDLETS = {
    "Get-OutboundConnector": {"Identity"} | COMMON,
    "New-OutboundConnector": {"Name"} | OUTBOUND_CONNECTOR | COMMON,
    "Set-OutboundConnector": {"Identity", "Name", "IsValidated", "LastValidationTimestamp", "ValidationRecipients"}
    | OUTBOUND_CONNECTOR | COMMON,
    "Validate-OutboundConnector": {"Identity", "Recipients"} | COMMON,
    "Get-TransportRule": {"Identity"} | COMMON,
    "New-TransportRule": {"Name"} | TRANSPORT_RULE | COMMON,
    "Set-TransportRule": {"Identity", "Name"} | TRANSPORT_RULE | COMMON,
}
VALUES = {
    "ConnectorType": {"OnPremises", "Partner"},
    "TlsSettings": {"EncryptionOnly", "CertificateValidation", "DomainValidation"},
    "SetAuditSeverity": {"DoNotAudit", "Low", "Medium", "High"},
    "Mode": {"Audit", "AuditAndNotify", "Enforce"},
    "SenderAddressLocation": {"Header", "Envelope", "HeaderOrEnvelope"},
    "RuleErrorAction": {"Ignore", "Defer"},
}
