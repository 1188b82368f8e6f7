#pragma once

#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace lethe {

/// Sets LibTorch's intra-op thread count (0 = one per hardware thread) and, once per process, the
/// inter-op count. Debian's LibTorch starts with a single intra-op thread, so every program calls this
/// at start-up. Returns the intra-op count now in effect.
int configureThreads(int intraOpThreads = 0);

/// Lets the C library keep freed memory for reuse instead of handing it back to the system at once. glibc's
/// defaults return blocks of a few MiB and more to the kernel when they are freed, so every training step's
/// feature maps were fresh pages the kernel had to fault in and zero (a sixth of an RGD step's CPU time on the
/// built-in model). Lethe's programs call this at start-up; blocks up to 64 MiB then come from the heap, and up
/// to 256 MiB of free heap stays with the process. It changes no result. Returns false, changing nothing, when
/// the user set glibc's malloc tunables themselves (GLIBC_TUNABLES with glibc.malloc.*, or MALLOC_*_ variables)
/// or the C library is not glibc.
bool configureAllocator();

/// Whether CUDA's matrix products (cuBLAS) and convolutions (cuDNN) may round through TF32. Lethe turns both off
/// at start-up, as the paper's code does (LibTorch's own default lets cuDNN use it); runs turn it on when their
/// config's allow_tf32 says so. No effect on the CPU.
void setTf32Allowed(bool allowed);
/// What setTf32Allowed last set (both flags).
bool tf32Allowed();

/// Number of hardware threads, at least 1.
int hardwareThreads();

/// Resolves a device name: "cpu", "cuda", "cuda:N", or "auto" (CUDA when available, else CPU). Throws Error
/// when CUDA is asked for and this build or machine has none, or the name is not one of these.
torch::Device resolveDevice(const std::string& name);

/// The built-in models, by file name under resources/models.
inline constexpr const char* kBuiltinEdmModel = "fmnist-edm.safetensors";
inline constexpr const char* kBuiltinClassifier = "fmnist-classifier.safetensors";
/// The built-in text-to-image model: a diffusers folder (pixel space, 32×32, captioned Fashion-MNIST).
inline constexpr const char* kBuiltinT2iModel = "fmnist-t2i";

/// The data folder of an installed Lethe (<prefix>/share/lethe for <prefix>/bin/lethe-cli), found from the
/// running executable's path; it need not exist. Empty when the executable's path cannot be read.
std::filesystem::path installedDataDir();

/// The folders resourceFile searches, in order: $LETHE_RESOURCE_DIR alone when it is set; otherwise
/// installedDataDir()/resources, then resources/ of the source tree the build came from.
std::vector<std::filesystem::path> resourceRoots();

/// Finds a bundled file under the first of resourceRoots() that has it. Throws Error naming every folder
/// it looked in.
std::filesystem::path resourceFile(const std::string& relative);

} // namespace lethe
