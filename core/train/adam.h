#pragma once

#include "core/io/safetensors.h"

#include <torch/types.h>

#include <string>
#include <vector>

namespace lethe::train {

/// Adam's hyperparameters (PyTorch's defaults).
struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weightDecay = 0.0; ///< L2 added to the gradient, as torch.optim.Adam does.
};

/// Adam over a fixed list of named parameters, with the same update as torch.optim.Adam. Written out
/// here rather than using torch::optim::Adam so its state can be saved by parameter name and resumed
/// identically on LibTorch 1.13 and 2.x, and so the lr can change between any two steps.
class Adam {
public:
    Adam(std::vector<std::pair<std::string, torch::Tensor>> parameters, AdamOptions options);

    /// One update from the parameters' current .grad() (parameters without a gradient are skipped).
    void step();
    void zeroGrad();

    const AdamOptions& options() const { return m_options; }
    void setLr(double lr) { m_options.lr = lr; }
    std::int64_t stepCount() const { return m_step; }

    /// Moments and step count as named tensors ("adam.exp_avg.NAME", "adam.exp_avg_sq.NAME", "adam.step"). A
    /// parameter's moments exist from the first step that updates it (no memory for them before), and only those
    /// that exist are listed.
    std::vector<io::NamedTensor> state() const;
    /// Restores what state() saved (moments it lacks are dropped: not created yet); throws FormatError naming the
    /// file and tensor on a mismatch.
    void loadState(const io::SafetensorsFile& file);
    /// Restores what state() returned (a copy of it: state() aliases the live moments); throws Error on a
    /// missing or mis-shaped entry.
    void loadState(const std::vector<io::NamedTensor>& state);

private:
    std::vector<std::pair<std::string, torch::Tensor>> m_parameters;
    std::vector<torch::Tensor> m_expAvg;
    std::vector<torch::Tensor> m_expAvgSq;
    AdamOptions m_options;
    std::int64_t m_step = 0;
};

} // namespace lethe::train
