#include "runtime.h"

#include "core/config.h"
#include "core/error.h"

#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lethe {

int hardwareThreads()
{
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

bool configureAllocator()
{
#if defined(__GLIBC__)
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (tunables && std::strstr(tunables, "glibc.malloc.") != nullptr)
        return false;
    for (const char* name : { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_" })
        if (std::getenv(name) != nullptr)
            return false;
    constexpr int kMmapThreshold = 64 << 20;
    constexpr int kTrimThreshold = 256 << 20;
    return mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
#else
    return false;
#endif
}

void setTf32Allowed(bool allowed)
{
    at::globalContext().setAllowTF32CuBLAS(allowed);
    at::globalContext().setAllowTF32CuDNN(allowed);
}

bool tf32Allowed()
{
    return at::globalContext().allowTF32CuBLAS() && at::globalContext().allowTF32CuDNN();
}

int configureThreads(int intraOpThreads)
{
    const int wanted = intraOpThreads > 0 ? intraOpThreads : hardwareThreads();
    // The inter-op pool can only be sized before its first use, and only once per process.
    static std::once_flag interOpOnce;
    std::call_once(interOpOnce, [] {
        try {
            at::set_num_interop_threads(1);
        } catch (const std::exception&) {
            // Already started by an earlier caller: keep its size.
        }
    });
    torch::set_num_threads(wanted);
    return torch::get_num_threads();
}

torch::Device resolveDevice(const std::string& name)
{
    if (name == "cpu")
        return torch::kCPU;
    const bool cuda = torch::cuda::is_available();
    if (name == "auto")
        return cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
        if (!cuda)
            throw Error("device '" + name
                + "' asked for, but CUDA is not available (this LibTorch has no CUDA "
                  "support or no GPU is visible); use --device cpu or auto");
        int index = 0;
        if (name != "cuda") {
            const std::string digits = name.substr(5);
            if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos)
                throw Error("device '" + name + "': expected cuda:N with a GPU number N");
            index = std::stoi(digits);
        }
        const auto count = static_cast<int>(torch::cuda::device_count());
        if (index >= count)
            throw Error("device '" + name + "': only " + std::to_string(count) + " CUDA device(s) visible");
        return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    throw Error("unknown device '" + name + "': expected cpu, cuda, cuda:N or auto");
}

std::filesystem::path installedDataDir()
{
    // Linux names the running executable here whatever the working directory or argv[0] were.
    std::error_code error;
    const std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error || executable.empty())
        return {};
    return (executable.parent_path() / LETHE_BIN_TO_DATA_DIR).lexically_normal();
}

std::vector<std::filesystem::path> resourceRoots()
{
    // An explicit LETHE_RESOURCE_DIR is the only place looked in: falling back elsewhere would hide a typo.
    const char* overridden = std::getenv("LETHE_RESOURCE_DIR");
    if (overridden && *overridden)
        return { std::filesystem::path(overridden) };
    std::vector<std::filesystem::path> roots;
    if (const std::filesystem::path data = installedDataDir(); !data.empty())
        roots.push_back(data / "resources");
    roots.emplace_back(LETHE_SOURCE_RESOURCE_DIR);
    return roots;
}

std::filesystem::path resourceFile(const std::string& relative)
{
    const std::vector<std::filesystem::path> roots = resourceRoots();
    std::string searched;
    for (const std::filesystem::path& root : roots) {
        std::filesystem::path path = root / relative;
        std::error_code error;
        // A file, or a folder such as the built-in text-to-image model (a diffusers folder).
        if (std::filesystem::is_regular_file(path, error) || std::filesystem::is_directory(path, error))
            return path;
        searched += (searched.empty() ? "" : ", ") + root.string();
    }
    const char* overridden = std::getenv("LETHE_RESOURCE_DIR");
    throw Error("built-in file " + relative + " not found in " + searched
        + (overridden && *overridden ? " (from LETHE_RESOURCE_DIR)"
                                     : " (install Lethe, or set LETHE_RESOURCE_DIR to the resources folder)"));
}

} // namespace lethe
