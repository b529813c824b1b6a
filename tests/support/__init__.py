"""What the tests share: test data, real sinks and processes, clients, fixtures. No tests here."""
