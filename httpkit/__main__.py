"""``python -m httpkit``: the same as the ``httpkit`` command."""

import sys

from httpkit.cli import main

sys.exit(main())
