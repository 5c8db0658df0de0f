"""``python -m zeroin`` runs the command line (same as the ``zeroin`` script)."""
from .cli import main

raise SystemExit(main())
