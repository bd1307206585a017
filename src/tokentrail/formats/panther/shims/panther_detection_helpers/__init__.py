"""TokenTrail's stand-in for ``panther_detection_helpers`` (see ``caching``)."""
