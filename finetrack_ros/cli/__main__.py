"""``python -m finetrack_ros.cli`` (e.g. under ``torchrun``) = the ``finetrack`` command."""
import sys

from finetrack_ros.cli import main

if __name__ == "__main__":
    sys.exit(main())
