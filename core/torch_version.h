#pragma once

// Compile-time checks of the LibTorch version that Lethe is built against.
//
// Lethe builds against two LibTorch lines: Debian's 1.13 (the CPU build that developers and CI use) and
// upstream 2.x (the CUDA builds on GPU machines, taken from Python's torch package). A few APIs differ
// between them, for example torch::scaled_dot_product_attention exists only from 2.0 on, and the autocast
// switches in <ATen/autocast_mode.h> changed in 2.4 (at::autocast::set_cpu_enabled(bool) became
// at::autocast::set_autocast_enabled(at::kCPU, bool)). Code that uses such an API guards it with these
// macros so that Debian's 1.13 still builds:
//
//     #include "core/torch_version.h"
//     #if LETHE_TORCH_AT_LEAST(2, 0)
//         out = torch::scaled_dot_product_attention(q, k, v);
//     #else
//         out = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale, -1).matmul(v);
//     #endif
//
// The macros are plain preprocessor arithmetic on <torch/version.h>, so they work in #if directives, and
// they cost nothing at run time.

#include <torch/version.h>

// True when the LibTorch being compiled against is version major.minor or newer.
#define LETHE_TORCH_AT_LEAST(major, minor)                                                                             \
    (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// True when LibTorch has torch::scaled_dot_product_attention (added in 2.0).
#define LETHE_TORCH_HAS_SDPA LETHE_TORCH_AT_LEAST(2, 0)

// True when the autocast switches take the device type (at::autocast::set_autocast_enabled(at::kCPU, on)
// and is_autocast_enabled(at::kCPU)) instead of per-device functions such as set_cpu_enabled (2.4 on).
#define LETHE_TORCH_DEVICE_AUTOCAST_API LETHE_TORCH_AT_LEAST(2, 4)

// The version as a string literal ("1.13.0", "2.11.0"), for logs and version reports.
#define LETHE_TORCH_VERSION_STRING TORCH_VERSION
