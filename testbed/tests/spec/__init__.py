"""Runner for MongoDB's unified test format, aimed at mongo-testbed (see ../spec_runner.py)."""
