"""`python -m host_tools.cli` is `ykt`."""

import sys

from host_tools.cli import main

sys.exit(main())
