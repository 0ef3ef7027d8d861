"""Peak RSS in probe subprocesses: the source of a `status(key)` reader of /proc/self/status."""

STATUS_SOURCE = r"""
from pathlib import Path

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)
"""
