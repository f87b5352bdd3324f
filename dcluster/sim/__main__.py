"""``python -m dcluster.sim``: the same command as ``dcluster-sim``."""

import sys

from .cli import main

sys.exit(main())
