#include "fashion_measures.h"

#include "core/data/captioned_fashion.h"
#include "core/error.h"
#include "core/eval/accuracy.h"

#include <torch/torch.h>

#include <cctype>

namespace lethe::eval {

namespace {

/// Whether `word` stands in `text` as whole words (not inside a longer word).
bool containsWords(const std::string& text, const std::string& word)
{
    for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
        const bool startOk
            = at == 0 || (!std::isalnum(static_cast<unsigned char>(text[at - 1])) && text[at - 1] != '-');
        const std::size_t end = at + word.size();
        const bool endOk = end == text.size() || !std::isalnum(static_cast<unsigned char>(text[end]));
        if (startOk && endOk)
            return true;
    }
    return false;
}

} // namespace

FashionTargets fashionTargets(const std::string& prompt)
{
    std::string text;
    for (const char c : prompt)
        text += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    FashionTargets targets;
    std::size_t longest = 0;
    const auto& nouns = data::fashionNouns();
    for (std::size_t c = 0; c < nouns.size(); ++c)
        for (const std::string& noun : nouns[c])
            if (noun.size() > longest && containsWords(text, noun)) {
                longest = noun.size();
                targets.garment = static_cast<int>(c);
            }
    const auto& palette = data::fashionPalette();
    for (std::size_t k = 0; k < palette.size(); ++k)
        if (containsWords(text, palette[k].name)) {
            targets.colour = static_cast<int>(k);
            break;
        }
    return targets;
}

double FashionMeasure::garmentRate(int garment) const
{
    if (images == 0 || garment < 0 || garment >= static_cast<int>(garmentCounts.size()))
        return 0.0;
    return static_cast<double>(garmentCounts[static_cast<std::size_t>(garment)]) / static_cast<double>(images);
}

double FashionMeasure::colourRate(int colour) const
{
    if (images == 0 || colour < 0 || colour >= static_cast<int>(colourCounts.size()))
        return 0.0;
    return static_cast<double>(colourCounts[static_cast<std::size_t>(colour)]) / static_cast<double>(images);
}

torch::Tensor garmentInput(const torch::Tensor& rgb)
{
    const torch::Tensor gray = data::grayscaleOf(rgb);
    return torch::where(gray < kGarmentInk, torch::zeros_like(gray), gray);
}

FashionReadings readFashionImages(models::ResNetClassifier& classifier, const torch::Tensor& rgb, torch::Device device)
{
    if (rgb.dim() != 4 || rgb.size(1) != 3 || rgb.scalar_type() != torch::kUInt8)
        throw Error("fashion measures: expected uint8 RGB images [N, 3, H, W]");
    const torch::Tensor gray = garmentInput(rgb);
    const torch::Tensor inked = (gray >= kGarmentInk).sum({ 1, 2, 3 }).to(torch::kFloat64);
    const double pixels = static_cast<double>(gray.size(2) * gray.size(3));
    const torch::Tensor shown = (inked >= kMinGarmentShare * pixels).cpu();
    const torch::Tensor labels = classify(classifier, gray, 64, device).labels.cpu();
    return { torch::where(shown, labels, torch::full_like(labels, -1)), data::dominantColour(rgb).cpu() };
}

FashionMeasure measureFashionImages(
    models::ResNetClassifier& classifier, const torch::Tensor& rgb, torch::Device device)
{
    const FashionReadings readings = readFashionImages(classifier, rgb, device);
    FashionMeasure measure;
    measure.images = rgb.size(0);
    measure.garmentCounts.assign(data::fashionNouns().size(), 0);
    measure.colourCounts.assign(data::fashionPalette().size(), 0);
    const torch::Tensor& labels = readings.garments;
    const torch::Tensor& colours = readings.colours;
    for (std::int64_t i = 0; i < measure.images; ++i) {
        const auto label = labels[i].item<std::int64_t>();
        if (label < 0)
            ++measure.blank;
        else if (label < static_cast<std::int64_t>(measure.garmentCounts.size()))
            ++measure.garmentCounts[static_cast<std::size_t>(label)];
        const auto colour = colours[i].item<std::int64_t>();
        if (colour >= 0)
            ++measure.colourCounts[static_cast<std::size_t>(colour)];
    }
    return measure;
}

} // namespace lethe::eval
