#pragma once

#include <torch/types.h>

#include <string>

namespace lethe {

/// Sets LibTorch's intra-op thread count (0 = one per hardware thread) and, once per process, the
/// inter-op count. Debian's LibTorch starts with a single intra-op thread, so every program calls this
/// at start-up. Returns the intra-op count now in effect.
int configureThreads(int intraOpThreads = 0);

/// Number of hardware threads, at least 1.
int hardwareThreads();

/// Resolves a device name: "cpu", "cuda", "cuda:N", or "auto" (CUDA when available, else CPU). Throws Error
/// when CUDA is asked for and this build or machine has none, or the name is not one of these.
torch::Device resolveDevice(const std::string& name);

} // namespace lethe
