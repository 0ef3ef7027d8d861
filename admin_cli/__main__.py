"""`python -m admin_cli` runs the same console script as `admin-cli`."""
from admin_cli.app import main

main()
