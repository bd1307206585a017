"""Rule model, detection IR, rule discovery and loading."""
