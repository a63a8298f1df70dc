"""The processing limits of RFC 7208 §4.6.4, and the record size spfguard keeps records under."""

LOOKUP_LIMIT = 10  # DNS-querying terms: include a mx ptr exists redirect
VOID_LIMIT = 2  # lookups answered NXDOMAIN or with no records ("SHOULD limit void lookups to two")
MX_LIMIT = 10  # MX records one "mx" may look at; more is a permerror
PTR_LIMIT = 10  # PTR names looked at for "ptr" and %{p}; the rest are ignored
# Not an RFC 7208 limit: a TXT answer over ~450 bytes may not fit a 512-byte UDP reply (RFC 7208 §3.4).
RECORD_BYTES_LIMIT = 450
