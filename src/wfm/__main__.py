"""``python -m wfm`` is the same as the ``wfm`` command."""

from wfm.main import main

main()
