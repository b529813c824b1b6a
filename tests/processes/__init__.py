"""The `herald` command and real Procfile processes, alone or several sharing Redis."""
