"""`train.precision: auto`: bf16 only where the hardware computes it natively, else fp32.

On a CPU without native bf16 (no `avx512_bf16`/`amx_bf16` flag, e.g. AMD Zen 3 without
AVX-512) bf16 matmuls are emulated and train slower than fp32 (measured 0.66x there), so
`auto` reads the CPU's flags (and the GPUs' compute capability) instead of assuming.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = Path("/proc/cpuinfo")


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


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo is not readable)."""
    return set((cpuinfo_field(("flags", "Features"), cpuinfo) or "").split())


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
