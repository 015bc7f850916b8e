# SPDX-License-Identifier: MIT
"""Sanitized builds (make test-asan, make test-tsan): librmapshim.so is
built with the sanitizer, so a plain program can only load it after the
sanitizer's runtime, which must be the first library of the process.
ctest gives the preload cases RMAPSHIM_TEST_RUNTIME (the runtime's path)
and the sanitizer's *_OPTIONS (tests/CMakeLists.txt); these helpers put
the runtime in front of a traced command.  Native runs are left alone.
Without RMAPSHIM_TEST_RUNTIME (a plain build) every helper is the identity.
"""
import os

RUNTIME = os.environ.get("RMAPSHIM_TEST_RUNTIME", "")


def preload(*libs):
    """An LD_PRELOAD value: the runtime (if any), then @libs."""
    return ":".join(([RUNTIME] if RUNTIME else []) + [l for l in libs if l])


def traced(cmd):
    """@cmd (the supervisor and its arguments) with the runtime preloaded:
    the supervisor keeps a leading sanitizer runtime in front of the shim
    in the workload's LD_PRELOAD."""
    if not RUNTIME:
        return list(cmd)
    return ["env", "LD_PRELOAD=" + preload(os.environ.get("LD_PRELOAD", ""))] + list(cmd)
