#pragma once

// The geometric half of EDM's augmentation pipe (NVlabs/edm training/augment.py, AugmentPipe), which the
// paper's CIFAR-10 model was trained with and is unlearned with. EDM's colour transforms (brightness,
// contrast, luma flip, hue, saturation) are not implemented: the paper's settings leave them at 0, and
// so does every AugmentOptions here.
//
// Coordinates: a 3×3 matrix acts on pixel coordinates (x right, y down) measured from the image centre
// ((W − 1)/2, (H − 1)/2). The pipe samples output pixel q from input position G⁻¹q.
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>

namespace lethe::diffusion {

/// Probabilities and ranges of EDM's geometric augmentations, under EDM's defaults. A transform is
/// drawn (and gets label columns) only when its multiplier is above 0; it is then applied to each image
/// with probability min(1, multiplier · p). EDM's snake_case name follows each field.
struct AugmentOptions {
    /// Overall probability multiplier (p), in [0, 1].
    double p = 1.0;
    /// Horizontal flip (xflip): applied images are mirrored left–right with probability 1/2.
    double xflip = 0.0;
    /// Vertical flip (yflip): applied images are mirrored top–bottom with probability 1/2.
    double yflip = 0.0;
    /// Rotation by a uniform multiple of 90° (rotate_int). Needs square images.
    double rotateInt = 0.0;
    /// Whole-pixel translation with mirrored borders (translate_int).
    double translateInt = 0.0;
    /// Range of translateInt as a fraction of the image size (translate_int_max); positive.
    double translateIntMax = 0.125;
    /// Isotropic scaling by 2^(scaleStd · n), n standard normal (scale).
    double scale = 0.0;
    /// Rotation by a uniform angle in ±π · rotateFracMax (rotate_frac).
    double rotateFrac = 0.0;
    /// Anisotropic scaling by 2^(±anisoStd · n) along a random axis (aniso).
    double aniso = 0.0;
    /// Sub-pixel translation by translateFracStd · size · n per axis (translate_frac).
    double translateFrac = 0.0;
    /// Log2 standard deviation of isotropic scaling (scale_std).
    double scaleStd = 0.2;
    /// Range of rotateFrac; 1 = full circle (rotate_frac_max).
    double rotateFracMax = 1.0;
    /// Log2 standard deviation of anisotropic scaling (aniso_std).
    double anisoStd = 0.2;
    /// Probability that anisotropic scaling acts along a rotated axis rather than x/y (aniso_rotate_prob).
    double anisoRotateProb = 0.5;
    /// Standard deviation of translateFrac as a fraction of the image size (translate_frac_std).
    double translateFracStd = 0.125;

    /// The settings of EDM's CIFAR-10 models and of the paper: p 0.12, xflip 1e8, yflip, scale, rotateFrac,
    /// aniso and translateFrac 1 (9 labels).
    static AugmentOptions edmCifar10();

    /// Number of augmentation label columns these options produce: 1 each for xflip, yflip and scale, 2 each
    /// for rotateInt, translateInt, rotateFrac, aniso and translateFrac, counting only multipliers above 0.
    std::int64_t labelDim() const;

    /// Throws Error naming the first field outside its range: p and anisoRotateProb in [0, 1], every other
    /// multiplier, standard deviation and range finite and non-negative, translateIntMax positive.
    void validate() const;
};

/// What augmentImages produced.
struct AugmentResult {
    /// The augmented images, shaped and typed like the input, on its device; the input tensor itself when no
    /// step had anything to do.
    torch::Tensor images;
    /// Float32 N×labelDim() on the images' device, the columns of the enabled transforms in this order:
    /// xflip (1 if flipped), yflip (1 if flipped), rotateInt (1 if the quarter-turn count k is 1 or 2,
    /// 1 if k is 2 or 3), translateInt (tx / (W · translateIntMax), ty / (H · translateIntMax)), scale (n),
    /// rotateFrac (cos θ − 1, sin θ), aniso (n · cos φ, n · sin φ), translateFrac (nx, ny); all 0 for an
    /// image the transform was not applied to.
    torch::Tensor labels;
    /// Float32 N×3×3 on the CPU: G⁻¹ of the general affine part (scale, rotateFrac, aniso, translateFrac),
    /// the identity when none of them is enabled.
    torch::Tensor inverseTransform;
};

/// EDM's AugmentPipe (geometric part) on float32 or float64 images N×C×H×W on any device. Every random
/// number comes from `generator`, which must be a CPU generator, in EDM's order and shapes, so a seed gives
/// the same augmentation on every device and the same draws as EDM's pipe run on the CPU after
/// torch.manual_seed(seed). In a batch where no image drew a non-identity scale, rotateFrac, aniso or
/// translateFrac, the resampling is skipped and those images come back exactly as the flips and integer
/// shifts left them (EDM resamples whenever one of those knobs is enabled; with identity transforms its
/// resampling changes pixels by rounding error only). Throws Error on bad options, images or generator.
AugmentResult augmentImages(const torch::Tensor& images, const AugmentOptions& options, at::Generator& generator);

/// EDM's resampling of images (float32/float64 N×C×H×W, any device) through the inverse transforms
/// `inverse` (N×3×3, pixel coordinates, see the top of this header): reflect padding, 2× upsampling with the
/// sym6 wavelet filter, bilinear sampling, filtered 2× downsampling. Exact transforms need no resampling,
/// so this is approximate: a band-limited version of the ideal warp, with mirrored content beyond the
/// borders.
torch::Tensor resampleImages(const torch::Tensor& images, const torch::Tensor& inverse);

/// N×3×3 translations by (tx, ty) (EDM's translate2d), typed like them; tx and ty are float vectors of one
/// length, type and device (Error otherwise), as are the parameters of scale2d and rotate2d.
torch::Tensor translate2d(const torch::Tensor& tx, const torch::Tensor& ty);

/// N×3×3 axis scalings by (sx, sy) (EDM's scale2d).
torch::Tensor scale2d(const torch::Tensor& sx, const torch::Tensor& sy);

/// N×3×3 rotations [[cos θ, −sin θ, 0], [sin θ, cos θ, 0], [0, 0, 1]] (EDM's rotate2d).
torch::Tensor rotate2d(const torch::Tensor& theta);

} // namespace lethe::diffusion
