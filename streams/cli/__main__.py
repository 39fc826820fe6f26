"""``python -m streams.cli``: the ``hslr`` command."""

import sys

from streams.cli.main import main

sys.exit(main())
