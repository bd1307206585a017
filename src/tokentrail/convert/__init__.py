"""Rules to other languages: Sigma, SIEM queries, data-lake SQL and vendor log searches."""
