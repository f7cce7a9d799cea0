"""``core.process.tune_gc``, run in a child process (it changes the
collector of the process that calls it)."""

from __future__ import annotations

import os
import subprocess
import sys

CHECK = "import gc; from core.process import tune_gc; tune_gc(); print(gc.get_threshold(), gc.get_freeze_count() > 0)"


def _run(gc_tune: str) -> str:
    env = {**os.environ, "GC_TUNE": gc_tune}
    return subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_server_processes_freeze_start_up_and_collect_less_often():
    assert _run("1") == "(50000, 50, 100) True"


def test_gc_tune_0_keeps_cpythons_defaults():
    assert _run("0") == "(700, 10, 10) False"
