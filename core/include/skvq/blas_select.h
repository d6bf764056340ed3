#pragma once
// Choosing OpenBLAS's kernels by the CPU's features where its own detection fails.

namespace skvq {

/// Debian 12's OpenBLAS (0.3.21, built DYNAMIC_ARCH) does not recognise newer Intel CPUs
/// (e.g. Sapphire Rapids) and falls back to its generic SSE3 "Prescott" kernels, which made
/// float32 matmuls ~2.3x slower on this project's machines. When OpenBLAS reports that
/// fallback (openblas_get_corename) while the CPU supports AVX-512 F/BW/DQ/VL (SkylakeX
/// kernels) or AVX2+FMA (Haswell kernels), this sets OPENBLAS_CORETYPE accordingly and
/// re-executes the program (/proc/self/exe with the same argv) once, because OpenBLAS reads the
/// variable only when it is loaded. Does nothing when OPENBLAS_CORETYPE is already set (the
/// user's choice wins), when the BLAS is not OpenBLAS, or when the core was recognised; returns
/// normally when it does nothing or the re-exec fails. Call first thing in main().
void select_blas_kernels(char** argv);

/// The OpenBLAS core in use ("SkylakeX", "Prescott", ...) or "" when the BLAS is not OpenBLAS.
const char* blas_core_name();

}  // namespace skvq
