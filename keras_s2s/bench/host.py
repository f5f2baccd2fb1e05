"""What a benchmark ran on: the CPU model, the ISA flags that decide the fast paths, cores and
library versions, so that figures from different hosts are never compared by mistake."""

from __future__ import annotations

import os
from pathlib import Path

from keras_s2s.train.precision import CPUINFO, cpu_flags, cpuinfo_field, isa_cap

# The flags that change which kernels run: AVX2/FMA (every x86 host here), AVX-512,
# native bf16 (AVX-512 BF16, AMX) and int8 dot products (VNNI).
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name ("unknown" where /proc/cpuinfo does not say)."""
    return cpuinfo_field(("model name",), cpuinfo) or "unknown"


def host_info(cpuinfo: Path = CPUINFO) -> dict:
    """`{"cpu_model", "isa": {flag: usable}, "isa_cap", "cores", "tensorflow", "onednn_opts"}`:
    a flag above an `ONEDNN_MAX_CPU_ISA` cap (`isa_cap`, None when unset) counts as absent."""
    import tensorflow as tf

    flags = cpu_flags(cpuinfo)
    return {"cpu_model": cpu_model(cpuinfo), "isa": {flag: flag in flags for flag in ISA_FLAGS},
            "isa_cap": isa_cap(), "cores": os.cpu_count(), "tensorflow": tf.__version__,
            "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")}
