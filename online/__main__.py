"""`python -m online`: see online/server.py."""

import sys

from online.server import main

sys.exit(main())
