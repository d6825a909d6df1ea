"""``python -m wfm.importers``: the ``wfm-import`` command."""

import sys

from wfm.importers import main

sys.exit(main())
