"""`python -m credtune` (also what `accelerate launch -m credtune` runs)."""

import sys

from .cli import main

sys.exit(main())
