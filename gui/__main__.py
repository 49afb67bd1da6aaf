"""``python -m gui`` opens the desktop app (same as the ``metalab`` command)."""

import sys

from gui.app import main

sys.exit(main())
