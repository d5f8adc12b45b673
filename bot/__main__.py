"""Entry point for `python -m bot`."""

import sys

from bot.frontends.cli import main

sys.exit(main())
