"""``python -m moccasin_cli``: the same as the ``moccasin`` command."""

import sys

from moccasin_cli.main import main

sys.exit(main())
