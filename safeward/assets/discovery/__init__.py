"""PHI discovery: find patient data in stray files (issue 13).

The engine (`engine`, `formats`, `detectors`) reads files and counts what
looks like PHI without touching the database; `safeward.assets.discovery_services`
checks the identifiers it found against keyed hashes of SafeWard's own
patient index through the clinical gateway and records findings. See
docs/decisions/0810-phi-discovery-scanner.md.
"""
