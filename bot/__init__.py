"""digestbot: new research papers that match your interests, delivered to Slack or the console.

The flow and the module map are in README.md ("How it works"); each stage is one module.
"""

import os

# numpy's BLAS on one thread, unless the operator says otherwise: scoring is many small dense
# vectors (a profile's 40,000 terms, 10,000 profiles), for which waking a pool of BLAS threads
# costs more than the sums themselves (1,000 profiles x 1,000 papers on a busy 2-core machine:
# 42.9 s with the pool, 28.2 s without, the same matches), and one thread adds in one fixed
# order. Set here, before any module imports numpy.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
