"""``make bench`` entry point: ``python bench/run.py [--quick|--full] [--compare]``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.realtime import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
