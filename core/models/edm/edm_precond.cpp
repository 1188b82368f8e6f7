#include "edm_precond.h"

#include "core/error.h"

#include <torch/torch.h>

namespace lethe::models {

EDMPrecondOptions::EDMPrecondOptions(std::int64_t img_resolution, std::int64_t img_channels)
    : img_resolution_(img_resolution)
    , img_channels_(img_channels)
    , model_(img_resolution, img_channels, img_channels)
{
}

PrecondCoefficients edmCoefficients(const torch::Tensor& sigma, double sigmaData)
{
    // Written the way PyTorch evaluates EDM's Python (a scalar divided by a tensor is reciprocal() times the
    // scalar there), so the factors match EDM's bit for bit.
    const torch::Tensor s = sigma.to(torch::kFloat32);
    const double d2 = sigmaData * sigmaData;
    PrecondCoefficients c;
    c.cSkip = (s.square() + d2).reciprocal() * d2;
    c.cOut = s * sigmaData / (s.square() + d2).sqrt();
    c.cIn = (s.square() + d2).sqrt().reciprocal();
    c.cNoise = s.log() / 4;
    return c;
}

EDMPrecondImpl::EDMPrecondImpl(EDMPrecondOptions options)
    : options(std::move(options))
{
    reset();
}

void EDMPrecondImpl::reset()
{
    if (!(options.sigma_data() > 0.0))
        throw Error("EDMPrecond: sigma_data must be positive, got " + std::to_string(options.sigma_data()));
    // EDM hands these four to the model itself; keep the stored options consistent with what is built.
    options.model()
        .img_resolution(options.img_resolution())
        .in_channels(options.img_channels())
        .out_channels(options.img_channels())
        .label_dim(options.label_dim());
    model = register_module("model", SongUNet(options.model()));
}

PrecondCoefficients EDMPrecondImpl::coefficients(const torch::Tensor& sigma) const
{
    return edmCoefficients(sigma, options.sigma_data());
}

torch::Tensor EDMPrecondImpl::forward(const torch::Tensor& x, const torch::Tensor& sigma,
                                      const torch::Tensor& class_labels, const torch::Tensor& augment_labels)
{
    const torch::Tensor x32 = x.to(torch::kFloat32);
    const torch::Tensor s = sigma.to(x32.device()).to(torch::kFloat32).reshape({-1, 1, 1, 1});
    torch::Tensor labels;
    if (options.label_dim() != 0)
        labels = class_labels.defined()
            ? class_labels.to(torch::kFloat32).reshape({-1, options.label_dim()})
            : torch::zeros({1, options.label_dim()}, torch::TensorOptions().dtype(torch::kFloat32).device(x32.device()));

    const PrecondCoefficients c = coefficients(s);
    const torch::Tensor f = model(c.cIn * x32, c.cNoise.flatten(), labels, augment_labels);
    return c.cSkip * x32 + c.cOut * f.to(torch::kFloat32);
}

} // namespace lethe::models
