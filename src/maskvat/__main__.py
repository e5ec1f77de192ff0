"""``python -m maskvat``: the same as the ``maskvat`` command."""

import sys

from maskvat.cli.main import main

sys.exit(main())
