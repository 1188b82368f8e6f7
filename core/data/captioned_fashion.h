#pragma once

// The training data of the built-in text-to-image model: Fashion-MNIST garments recoloured with a fixed
// palette and captioned in words ("a photo of a red sneaker"), with several templates and synonyms, and the
// measures that read a generated image back: its garment (through the grayscale classifier) and its colour.

#include "core/data/image_set.h"

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace lethe::data {

/// One palette entry. Every colour has a channel at 255, so an image's grayscale is its channel maximum.
struct PaletteColour {
    std::string name;
    std::array<std::uint8_t, 3> rgb;
};

/// red, green, blue, yellow, purple, white, pink (the colours of resources/presets/fashion-colours.json, whose
/// remain-test split holds out the last two from the unlearning sets, not from pretraining).
const std::vector<PaletteColour>& fashionPalette();

/// Per Fashion-MNIST class, the nouns its captions use; the first is the class's plain name.
const std::vector<std::vector<std::string>>& fashionNouns();

/// The caption templates: "{a}" is "a" or "an" for the word after it, "{colour}" and "{object}" the rest.
const std::vector<std::string>& captionTemplates();

/// One caption. Throws Error for an index out of range.
std::string fashionCaption(int classIndex, int colourIndex, int templateIndex = 0, int nounIndex = 0);

/// Every caption the templates, nouns and colours can make (the tokenizer's training text).
std::vector<std::string> allFashionCaptions();

/// Grayscale uint8 images [N, 1, H, W] in the palette colours `colours` (int64 [N]): [N, 3, H, W] uint8, each
/// channel intensity × colour / 255, rounded.
torch::Tensor recolour(const torch::Tensor& gray, const torch::Tensor& colours);

/// The grayscale of recoloured images: the channel maximum, uint8 [N, 1, H, W].
torch::Tensor grayscaleOf(const torch::Tensor& rgb);

/// The palette colour of each image (int64 [N]): the mean colour of its bright pixels (channel maximum of at
/// least 96), scaled to a maximum of 1, nearest palette colour so scaled; -1 for an image without bright pixels.
torch::Tensor dominantColour(const torch::Tensor& rgb);

/// A training batch: images recoloured and captioned at random from `generator`'s draws.
struct CaptionedBatch {
    torch::Tensor images; ///< uint8 [N, 3, H, W].
    std::vector<std::string> captions;
    torch::Tensor labels; ///< int64 [N], the garment class.
    torch::Tensor colours; ///< int64 [N], the palette index.
};

/// Recolours and captions the images `indices` of `gray` (a Fashion-MNIST set), drawing each image's colour,
/// template and noun uniformly from `generator` (a CPU generator).
CaptionedBatch captionedBatch(const ImageSet& gray, const std::vector<std::int64_t>& indices, at::Generator& generator);

} // namespace lethe::data
