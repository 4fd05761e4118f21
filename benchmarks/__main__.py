"""``python -m benchmarks``: the benchmark suite (see benchmarks/suite.py and docs/benchmarks.md)."""

import sys

from .suite import main

sys.exit(main())
