"""Live runs: collectors or a log-stream receiver feed the streaming engine, alerts go to every
sink, and only then is the checkpoint stored, so a crash at any moment loses nothing and, with
deterministic alert ids, sends nothing twice to a sink that keeps what it was sent."""
