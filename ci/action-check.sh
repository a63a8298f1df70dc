#!/usr/bin/env bash
# The check step of action.yml (and usable in any CI): audits every SPF record of the zone files in
# $SPFGUARD_ZONES (files or folders) — names inside them as written, every other name live — writes SARIF to
# $SPFGUARD_SARIF, prints a summary, and validates the octoDNS configuration $SPFGUARD_OCTODNS_CONFIG when given.
# Exit codes as spfguard's: 0 clean, 1 findings at or above $SPFGUARD_FAIL_ON, 2 bad input, 3 could not check.
set -uo pipefail

fail_on="${SPFGUARD_FAIL_ON:-error}"
sarif="${SPFGUARD_SARIF:-spfguard.sarif}"
status=0
files=()
for path in ${SPFGUARD_ZONES:-}; do
    if [ -d "$path" ]; then
        while IFS= read -r -d '' file; do files+=("$file"); done < <(find "$path" -name '*.zone' -print0 | sort -z)
    else
        files+=("$path")
    fi
done
if [ ${#files[@]} -gt 0 ]; then
    spfguard check-zones "${files[@]}" --fail-on "$fail_on" --format sarif --output "$sarif"
    status=$?
    spfguard check-zones "${files[@]}" --fail-on "$fail_on" --format summary || true
fi
if [ -n "${SPFGUARD_OCTODNS_CONFIG:-}" ]; then
    if ! octodns-validate --config-file "$SPFGUARD_OCTODNS_CONFIG"; then
        [ "$status" -eq 0 ] && status=1
    fi
fi
if [ ${#files[@]} -eq 0 ] && [ -z "${SPFGUARD_OCTODNS_CONFIG:-}" ]; then
    echo "spfguard: error: give zones (zone files or folders) or octodns-config" >&2
    status=2
fi
exit "$status"
