#include "class_attack.h"

#include "core/attack/frozen_parameters.h"
#include "core/diffusion/class_sampling.h"
#include "core/diffusion/edm_loss.h"
#include "core/diffusion/pixels.h"
#include "core/error.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace lethe::attack {

void ClassAttackOptions::validate() const
{
    if (steps < 1)
        throw Error("attack: --attack-steps must be at least 1, not " + std::to_string(steps));
    if (!(lr > 0) || !std::isfinite(lr))
        throw Error("attack: --attack-lr must be a positive number");
    if (batch < 1)
        throw Error("attack: --attack-batch must be at least 1, not " + std::to_string(batch));
}

std::optional<ClassAttackResult> attackClass(models::EDMPrecond& net, int forgotten, const torch::Tensor& targets,
    const ClassAttackOptions& options, torch::Device device, const AttackStepProgress& progress)
{
    options.validate();
    const std::int64_t classes = net->options.label_dim();
    if (classes < 1)
        throw Error("attack: the class attack needs a class-conditional model; this one is unconditional");
    if (forgotten < 0 || forgotten >= classes)
        throw Error("attack: class " + std::to_string(forgotten) + " is not one of the model's classes 0–"
            + std::to_string(classes - 1));
    const std::int64_t resolution = net->options.img_resolution();
    if (targets.dim() != 4 || targets.scalar_type() != torch::kUInt8 || targets.size(0) < 1
        || targets.size(1) != net->options.img_channels() || targets.size(2) != resolution
        || targets.size(3) != resolution)
        throw Error("attack: the target images must be uint8 [M, " + std::to_string(net->options.img_channels()) + ", "
            + std::to_string(resolution) + ", " + std::to_string(resolution) + "], found " + tensorText(targets));

    const FrozenParameters frozen(net->parameters());
    const bool wasTraining = net->is_training();
    net->eval();
    const diffusion::Denoiser denoiser = diffusion::denoiserOf(net);
    const torch::Tensor images = diffusion::pixelsToFloat(targets).to(device, torch::kFloat32);

    torch::Tensor label = torch::zeros({ classes }, torch::TensorOptions().dtype(torch::kFloat32).device(device));
    {
        torch::NoGradGuard noGrad;
        label[forgotten] = 1.0F;
    }
    label.set_requires_grad(true);
    torch::optim::Adam optimizer({ label }, torch::optim::AdamOptions(options.lr));
    at::Generator generator = diffusion::cpuGenerator(options.seed);

    ClassAttackResult result;
    if (progress && !progress(0, options.steps, std::numeric_limits<double>::quiet_NaN()))
        return std::nullopt;
    torch::Tensor order;
    std::int64_t next = images.size(0);
    const std::int64_t batch = std::min<std::int64_t>(options.batch, images.size(0));
    for (int step = 1; step <= options.steps; ++step) {
        if (next + batch > images.size(0)) {
            order = torch::randperm(images.size(0), generator, torch::kInt64).to(device);
            next = 0;
        }
        const torch::Tensor x = images.index_select(0, order.narrow(0, next, batch));
        next += batch;
        const diffusion::EdmLossResult loss
            = diffusion::edmLoss(denoiser, x, label.unsqueeze(0).expand({ batch, -1 }), {}, generator);
        optimizer.zero_grad();
        loss.loss.backward();
        optimizer.step();
        result.losses.push_back(loss.loss.item<double>());
        if (progress && !progress(step, options.steps, result.losses.back()))
            return std::nullopt;
    }
    result.label = label.detach().to(torch::kCPU).clone();
    if (wasTraining)
        net->train();
    return result;
}

} // namespace lethe::attack
