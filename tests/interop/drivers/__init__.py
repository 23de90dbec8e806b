"""Driver scripts, each run by the python of its client's own virtual environment (never imported by pytest)."""
