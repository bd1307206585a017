"""Back-ends that turn the detection IR into something that runs: Python callables, SQL."""
