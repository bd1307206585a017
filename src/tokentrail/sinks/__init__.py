"""Alert outputs: Rich tables, JSON lines, JSON documents."""
