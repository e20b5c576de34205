"""What the tests share, in plain modules imported by name: builders, servers on loopback, fakes
scripted for a test. Conftest files hold fixtures only and import from here."""
