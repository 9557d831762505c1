"""Mapping accuracy on the evaluation corpus: the same as ``cemkit eval-mapping`` (see
:mod:`cemkit.ingest.evaluate` and tests/data/mapping_eval/README.md).

Run: .venv/bin/python benchmarks/eval_mapping.py [FOLDER ...] [--run ingest|full|none] [--details] [--json OUT]
"""

import sys

from cemkit.ingest.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
