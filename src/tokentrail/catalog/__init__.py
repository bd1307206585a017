"""The catalog: ATT&CK data and coverage, indicators with corpus counts, threat briefs and feeds."""
