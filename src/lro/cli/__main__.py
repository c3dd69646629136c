"""``python -m lro.cli``."""

import sys

from lro.cli import main

sys.exit(main())
