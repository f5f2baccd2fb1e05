"""`train.precision: auto`: bf16 only where the hardware computes it natively, else fp32.

On a CPU without native bf16 (no `avx512_bf16`/`amx_bf16` flag, e.g. AMD Zen 3 without
AVX-512) bf16 matmuls are emulated and train slower than fp32 (measured 0.66x there), so
`auto` reads the CPU's flags (and the GPUs' compute capability) instead of assuming.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = Path("/proc/cpuinfo")
# oneDNN's own switch to use no ISA above the one named (e.g. `AVX2` on an AVX-512 host, to
# measure what an AVX2-only host of the same clock would run). Flags above the cap are not
# usable: oneDNN never dispatches to them, and TF's bf16 kernels abort under such a cap.
ISA_CAP_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
CAPPED_FLAG_PREFIXES = ("avx512", "amx")


class Choice(NamedTuple):
    """The precision a run uses and why."""

    precision: str  # "fp32", "bf16" or "fp16"
    reason: str


def cpuinfo_field(names: tuple[str, ...], cpuinfo: Path = CPUINFO) -> str | None:
    """The value of the first `/proc/cpuinfo` line starting with one of `names` (None where
    there is none, or the file is not readable)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(names):
            return line.split(":", 1)[1].strip()
    return None


def isa_cap_environment(cap: str) -> dict[str, str]:
    """The variables that hold oneDNN (TF, PyTorch), MKL and PyTorch's own kernels below ISA
    `cap` (e.g. "AVX2"): set them before the libraries start, in every process compared."""
    return {ISA_CAP_VARIABLES[0]: cap.upper(), "MKL_ENABLE_INSTRUCTIONS": cap.upper(),
            "ATEN_CPU_CAPABILITY": cap.lower()}


def isa_cap() -> str | None:
    """The oneDNN ISA cap set in the environment (`ONEDNN_MAX_CPU_ISA`), upper-cased."""
    for name in ISA_CAP_VARIABLES:
        if os.environ.get(name):
            return os.environ[name].upper()
    return None


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The CPU feature flags the kernel reports that oneDNN may use: all of them, less the
    AVX-512 and AMX ones under a cap below AVX-512 (`ONEDNN_MAX_CPU_ISA=AVX2`). Empty where
    /proc/cpuinfo is not readable."""
    flags = set((cpuinfo_field(("flags", "Features"), cpuinfo) or "").split())
    cap = isa_cap()
    if cap and cap != "ALL" and not cap.startswith(("AVX512", "AVX10", "AMX")):
        flags = {f for f in flags if not f.startswith(CAPPED_FLAG_PREFIXES)}
    return flags


def choose_precision(requested: str, flags: set[str] | None = None,
                     gpu_capabilities: tuple[tuple[int, int], ...] | None = None) -> Choice:
    """Resolves `auto`; any other value is kept as it is.

    Args:
        requested: `train.precision`.
        flags: CPU flags (read from /proc/cpuinfo when None).
        gpu_capabilities: CUDA compute capabilities of the GPUs (asked from TF when None).
    """
    if requested != "auto":
        return Choice(requested, "set explicitly")
    if gpu_capabilities is None:
        gpu_capabilities = _gpu_capabilities()
    if gpu_capabilities:
        if all(cap >= (8, 0) for cap in gpu_capabilities):
            return Choice("bf16", "auto: every GPU has native bf16 (compute capability >= 8.0)")
        return Choice("fp32", "auto: a GPU without native bf16 (compute capability < 8.0)")
    flags = cpu_flags() if flags is None else flags
    native = sorted(set(NATIVE_BF16_CPU_FLAGS) & flags)
    if native:
        return Choice("bf16", f"auto: this CPU computes bf16 natively ({', '.join(native)})")
    return Choice("fp32", "auto: this CPU has no native bf16 (no avx512_bf16/amx_bf16 flag), "
                          "where bf16 trains slower than fp32")


def _gpu_capabilities() -> tuple[tuple[int, int], ...]:
    import tensorflow as tf

    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        found.append(tuple(details.get("compute_capability", (0, 0))))
    return tuple(found)
