"""Stand-ins for Panther's helper packages, served only when the real ones are not installed."""
