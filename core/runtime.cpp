#include "runtime.h"

#include <torch/torch.h>

#include <mutex>
#include <thread>

namespace lethe {

int hardwareThreads()
{
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
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

} // namespace lethe
