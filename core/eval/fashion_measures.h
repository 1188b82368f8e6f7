#pragma once

// What the built-in text-to-image model's images show, measured: the garment (the bundled grayscale
// classifier on the images' grayscale) and the colour (the palette colour of the bright pixels). These are the
// measures concept unlearning on the built-in model is judged by: erasing "sneaker" should bring the sneaker
// rate on sneaker prompts down, erasing "red" the red rate on red prompts.

#include "core/models/classifier/resnet_classifier.h"

#include <torch/types.h>

#include <string>

namespace lethe::eval {

/// The garment class and palette colour a caption-like prompt names: -1 where it names none. Nouns and
/// colours are those of data/captioned_fashion.h; the longest noun found wins ("t-shirt" over "shirt").
struct FashionTargets {
    int garment = -1;
    int colour = -1;
};
FashionTargets fashionTargets(const std::string& prompt);

/// An image shows a garment when at least this share of its pixels reaches kGarmentInk in grayscale. Every
/// Fashion-MNIST test image passes (the faintest has 42 of 1,024 such pixels, 4.1 %); an image that unlearning
/// has turned black or into a few specks does not, and the classifier is not asked about it, since it would
/// name some garment for an empty image too. The paper's zero-shot CLIP classifier has an extra "random noise"
/// label for the same reason.
inline constexpr int kGarmentInk = 32;
inline constexpr double kMinGarmentShare = 0.02;

/// What the classifier is shown: the grayscale (the brightest channel) with every pixel under kGarmentInk set to
/// 0. Real Fashion-MNIST backgrounds are black (pixels under 32 average 0.6); a sampler, and more so a model
/// after unlearning, leaves a faint haze there (averages of 5 to 18) that the eye does not see but that makes the
/// classifier take trousers for a pullover. Cleared so, the real test images lose 1.5 points of accuracy
/// (91.68 % to 90.17 %). uint8 [N, 3, H, W] in, uint8 [N, 1, H, W] out.
torch::Tensor garmentInput(const torch::Tensor& rgb);

/// Per image set: how many images, how many the classifier reads as each class and how many show each colour.
struct FashionMeasure {
    std::int64_t images = 0;
    std::int64_t blank = 0; ///< Images showing no garment (kMinGarmentShare); they count in no class.
    std::vector<std::int64_t> garmentCounts; ///< Per class (10).
    std::vector<std::int64_t> colourCounts; ///< Per palette colour; images without bright pixels count in none.

    /// The fraction of images read as `garment` / showing `colour`; 0 without images.
    double garmentRate(int garment) const;
    double colourRate(int colour) const;
};

/// Per image: the class the grayscale classifier reads (-1: no garment shown) and the palette colour (-1: no
/// bright pixels).
struct FashionReadings {
    torch::Tensor garments; ///< int64 [N], on the CPU.
    torch::Tensor colours; ///< int64 [N], on the CPU.
};

/// Reads uint8 RGB images [N, 3, H, W] with a grayscale 10-class classifier (already on `device`).
FashionReadings readFashionImages(
    models::ResNetClassifier& classifier, const torch::Tensor& rgb, torch::Device device = torch::kCPU);

/// Counts readFashionImages() over all images.
FashionMeasure measureFashionImages(
    models::ResNetClassifier& classifier, const torch::Tensor& rgb, torch::Device device = torch::kCPU);

} // namespace lethe::eval
