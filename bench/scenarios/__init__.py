"""One module per scenario: TITLE, FULL and SMOKE sizes, and run(context) -> result."""
