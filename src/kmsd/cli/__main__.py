"""``python -m kmsd.cli``: the ``kmsd`` command without the console script (as ``kmsd`` itself runs it)."""

import sys

from kmsd.cli import main

sys.exit(main())
