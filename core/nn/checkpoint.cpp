#include "checkpoint.h"

#include "core/nn/autocast.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <utility>

namespace lethe::nn {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Autocast keeps the low-precision copy of a weight for the rest of its region, made the first time the weight is
/// used, whether or not gradients were being recorded then. A copy made in the first pass, without gradients,
/// would be reused by the recomputation and cut the weights out of its graph (no gradient for them); one made in
/// the recomputation would keep that graph alive. So neither pass caches.
class AutocastCacheOff {
public:
    AutocastCacheOff()
        : m_was(at::autocast::is_autocast_cache_enabled())
    {
        at::autocast::set_autocast_cache_enabled(false);
    }
    ~AutocastCacheOff() { at::autocast::set_autocast_cache_enabled(m_was); }
    AutocastCacheOff(const AutocastCacheOff&) = delete;
    AutocastCacheOff& operator=(const AutocastCacheOff&) = delete;

private:
    bool m_was;
};

/// What the backward pass needs besides tensors, kept in the autograd context.
struct Recompute : torch::CustomClassHolder {
    BlockFunction block;
    std::size_t inputCount = 0;
    std::vector<bool> inputDefined;
    torch::Device device = torch::kCPU;
    torch::ScalarType autocast = torch::kFloat32;
    torch::Tensor generatorState; ///< The CPU generator's state before the first pass.
};

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
public:
    /// `tensors`: the block's defined inputs, then its parameters.
    static torch::Tensor forward(AutogradContext* ctx, c10::IValue recompute, torch::TensorList tensors)
    {
        auto state = recompute.toCapsule();
        auto* r = static_cast<Recompute*>(state.get());
        r->generatorState = at::detail::getDefaultCPUGenerator().get_state();
        std::vector<torch::Tensor> inputs = expand(*r, tensors);
        ctx->save_for_backward(tensors.vec());
        ctx->saved_data["recompute"] = std::move(recompute);
        torch::NoGradGuard noGrad;
        const AutocastCacheOff cacheOff;
        return r->block(inputs);
    }

    static variable_list backward(AutogradContext* ctx, variable_list gradOutputs)
    {
        const auto state = ctx->saved_data["recompute"].toCapsule();
        auto* r = static_cast<Recompute*>(state.get());
        const variable_list saved = ctx->get_saved_variables();
        // The inputs as leaves of a graph of their own; the parameters as they are.
        variable_list leaves;
        for (std::size_t i = 0; i < saved.size(); ++i) {
            if (i < r->inputCount)
                leaves.push_back(saved[i].detach().requires_grad_(saved[i].requires_grad()));
            else
                leaves.push_back(saved[i]);
        }
        torch::Tensor output;
        {
            torch::AutoGradMode enable(true);
            const AutocastGuard autocast(r->device, r->autocast);
            const AutocastCacheOff cacheOff;
            auto generator = at::detail::getDefaultCPUGenerator();
            const torch::Tensor now = generator.get_state();
            generator.set_state(r->generatorState);
            output = r->block(expand(*r, leaves));
            generator.set_state(now);
        }
        variable_list wanted;
        std::vector<std::size_t> where;
        for (std::size_t i = 0; i < leaves.size(); ++i)
            if (leaves[i].requires_grad()) {
                wanted.push_back(leaves[i]);
                where.push_back(i);
            }
        variable_list grads(1 + leaves.size()); // The first is the Recompute's, which is not a tensor.
        if (wanted.empty() || !output.requires_grad())
            return grads;
        const variable_list found = torch::autograd::grad({ output }, wanted, { gradOutputs[0] },
            /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
        for (std::size_t j = 0; j < where.size(); ++j)
            grads[1 + where[j]] = found[j];
        return grads;
    }

private:
    /// The block's inputs from the defined ones, with undefined tensors where the caller gave them.
    static std::vector<torch::Tensor> expand(const Recompute& r, torch::TensorList tensors)
    {
        std::vector<torch::Tensor> inputs;
        std::size_t next = 0;
        for (const bool defined : r.inputDefined)
            inputs.push_back(defined ? tensors[next++] : torch::Tensor());
        return inputs;
    }
};

} // namespace

torch::Tensor checkpoint(
    const BlockFunction& block, const std::vector<torch::Tensor>& inputs, const std::vector<torch::Tensor>& parameters)
{
    auto recompute = c10::make_intrusive<Recompute>();
    recompute->block = block;
    std::vector<torch::Tensor> tensors;
    for (const torch::Tensor& input : inputs) {
        recompute->inputDefined.push_back(input.defined());
        if (input.defined()) {
            tensors.push_back(input);
            recompute->device = input.device();
        }
    }
    recompute->inputCount = tensors.size();
    recompute->autocast = autocastType(recompute->device);
    tensors.insert(tensors.end(), parameters.begin(), parameters.end());
    // As a TensorList, not a vector: autograd looks for tensors in the arguments by type, and a vector would be taken
    // for a value that is not one.
    return CheckpointFunction::apply(c10::IValue::make_capsule(std::move(recompute)), torch::TensorList(tensors));
}

std::vector<torch::Tensor> trainedParameters(const torch::nn::Module& module)
{
    std::vector<torch::Tensor> out;
    for (const torch::Tensor& p : module.parameters())
        if (p.requires_grad())
            out.push_back(p);
    return out;
}

} // namespace lethe::nn
