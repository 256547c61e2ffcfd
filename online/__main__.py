"""`python -m online`: see online/server.py."""

import sys

from carolbatch.online.server import main

sys.exit(main())
