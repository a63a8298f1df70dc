"""``spfguard senders``: who really sends as a domain, from DMARC aggregate reports (RFC 7489 §7.2, appendix C).

:mod:`spfguard.senders.reports` reads report files (the edge: parsedmarc's parser); :mod:`spfguard.senders.analysis`
attributes each source to a platform of the catalogue and classifies the platforms (pure);
:mod:`spfguard.senders.run` ties them to DNS: the sender sets of the catalogue, ``check_host()`` for every source
today, reverse DNS for the sources no platform claims.
"""
