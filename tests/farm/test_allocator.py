from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_keep_freed_memory_applies_once_in_a_fresh_process():
    # In a child process: the setting is process-wide and must not leak into the test runner.
    code = ("from farm.allocator import keep_freed_memory as k\n"
            "import numpy as np\n"
            "first = k(); a = np.ones(10_000_000); del a; b = np.ones(10_000_000)\n"
            "print(first, k(), float(b.sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if out[0] == "False":
        pytest.skip("the C library is not glibc (mallopt refused): the farm leaves the allocator alone")
    assert out == ["True", "True", "10000000.0"]
