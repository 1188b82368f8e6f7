#include "captioned_fashion.h"

#include "core/error.h"

#include <torch/torch.h>

namespace lethe::data {

const std::vector<PaletteColour>& fashionPalette()
{
    static const std::vector<PaletteColour> palette {
        { "red", { 255, 40, 40 } },
        { "green", { 50, 255, 70 } },
        { "blue", { 40, 90, 255 } },
        { "yellow", { 255, 230, 30 } },
        { "purple", { 170, 60, 255 } },
        { "white", { 255, 255, 255 } },
        { "pink", { 255, 105, 180 } },
    };
    return palette;
}

const std::vector<std::vector<std::string>>& fashionNouns()
{
    static const std::vector<std::vector<std::string>> nouns {
        { "t-shirt", "tee", "top" },
        { "pair of trousers", "pair of pants" },
        { "pullover", "sweater", "jumper" },
        { "dress", "gown" },
        { "coat", "jacket" },
        { "sandal" },
        { "shirt", "blouse", "button-up shirt" },
        { "sneaker", "trainer", "running shoe" },
        { "bag", "handbag", "purse" },
        { "ankle boot", "boot" },
    };
    return nouns;
}

const std::vector<std::string>& captionTemplates()
{
    static const std::vector<std::string> templates {
        "a photo of {a} {colour} {object}",
        "{a} {colour} {object}",
        "a picture of {a} {colour} {object}",
        "{colour} {object}",
        "{a} {object} in {colour}",
    };
    return templates;
}

namespace {

void replaceAll(std::string& text, const std::string& from, const std::string& to)
{
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
}

template <typename T> void checkIndex(int index, const std::vector<T>& list, const char* what)
{
    if (index < 0 || index >= static_cast<int>(list.size()))
        throw Error(std::string("caption: ") + what + " index " + std::to_string(index) + " is outside 0…"
            + std::to_string(list.size() - 1));
}

} // namespace

std::string fashionCaption(int classIndex, int colourIndex, int templateIndex, int nounIndex)
{
    checkIndex(classIndex, fashionNouns(), "class");
    checkIndex(colourIndex, fashionPalette(), "colour");
    checkIndex(templateIndex, captionTemplates(), "template");
    checkIndex(nounIndex, fashionNouns()[static_cast<std::size_t>(classIndex)], "noun");
    std::string text = captionTemplates()[static_cast<std::size_t>(templateIndex)];
    replaceAll(text, "{colour}", fashionPalette()[static_cast<std::size_t>(colourIndex)].name);
    replaceAll(
        text, "{object}", fashionNouns()[static_cast<std::size_t>(classIndex)][static_cast<std::size_t>(nounIndex)]);
    // The article agrees with the word after it.
    for (std::size_t at = text.find("{a} "); at != std::string::npos; at = text.find("{a} ")) {
        const char next = at + 4 < text.size() ? text[at + 4] : 'x';
        const bool vowel = std::string("aeiou").find(next) != std::string::npos;
        text.replace(at, 3, vowel ? "an" : "a");
    }
    return text;
}

std::vector<std::string> allFashionCaptions()
{
    std::vector<std::string> captions;
    for (int c = 0; c < static_cast<int>(fashionNouns().size()); ++c)
        for (int n = 0; n < static_cast<int>(fashionNouns()[static_cast<std::size_t>(c)].size()); ++n)
            for (int k = 0; k < static_cast<int>(fashionPalette().size()); ++k)
                for (int t = 0; t < static_cast<int>(captionTemplates().size()); ++t)
                    captions.push_back(fashionCaption(c, k, t, n));
    return captions;
}

torch::Tensor recolour(const torch::Tensor& gray, const torch::Tensor& colours)
{
    if (gray.dim() != 4 || gray.size(1) != 1 || gray.scalar_type() != torch::kUInt8)
        throw Error("recolour: expected uint8 grayscale images [N, 1, H, W]");
    if (colours.dim() != 1 || colours.size(0) != gray.size(0))
        throw Error("recolour: expected one colour per image");
    std::vector<float> table;
    for (const PaletteColour& c : fashionPalette())
        for (const std::uint8_t v : c.rgb)
            table.push_back(static_cast<float>(v) / 255.0F);
    const torch::Tensor palette = torch::tensor(table).view({ -1, 3 });
    const torch::Tensor rgb = palette.index_select(0, colours.to(torch::kInt64)).view({ -1, 3, 1, 1 });
    return (gray.to(torch::kFloat32) * rgb).round_().clamp_(0, 255).to(torch::kUInt8);
}

torch::Tensor grayscaleOf(const torch::Tensor& rgb)
{
    if (rgb.dim() != 4 || rgb.size(1) != 3)
        throw Error("grayscale: expected RGB images [N, 3, H, W]");
    return std::get<0>(rgb.max(1, true));
}

torch::Tensor dominantColour(const torch::Tensor& rgb)
{
    const torch::Tensor images = rgb.to(torch::kFloat32);
    const torch::Tensor bright = (std::get<0>(images.max(1, true)) >= 96).to(torch::kFloat32); // [N,1,H,W]
    const torch::Tensor count = bright.sum({ 1, 2, 3 });
    torch::Tensor mean = (images * bright).sum({ 2, 3 }) / count.clamp_min(1).unsqueeze(1); // [N,3]
    mean = mean / std::get<0>(mean.max(1, true)).clamp_min(1e-6);
    std::vector<float> table;
    for (const PaletteColour& c : fashionPalette())
        for (const std::uint8_t v : c.rgb)
            table.push_back(static_cast<float>(v) / 255.0F);
    const torch::Tensor palette = torch::tensor(table).view({ -1, 3 });
    const torch::Tensor distance = torch::cdist(mean, palette); // [N, K]
    torch::Tensor nearest = distance.argmin(1);
    return torch::where(count > 0, nearest, torch::full_like(nearest, -1));
}

CaptionedBatch captionedBatch(const ImageSet& gray, const std::vector<std::int64_t>& indices, at::Generator& generator)
{
    const auto n = static_cast<std::int64_t>(indices.size());
    const torch::Tensor index = torch::tensor(indices, torch::kInt64);
    CaptionedBatch batch;
    batch.labels = gray.labels.index_select(0, index);
    batch.colours = torch::randint(static_cast<std::int64_t>(fashionPalette().size()), { n }, generator,
        torch::TensorOptions().dtype(torch::kInt64));
    const torch::Tensor templates = torch::randint(static_cast<std::int64_t>(captionTemplates().size()), { n },
        generator, torch::TensorOptions().dtype(torch::kInt64));
    const torch::Tensor nounDraws = torch::rand({ n }, generator, torch::TensorOptions().dtype(torch::kFloat64));
    batch.images = recolour(gray.images.index_select(0, index), batch.colours);
    for (std::int64_t i = 0; i < n; ++i) {
        const auto cls = static_cast<int>(batch.labels[i].item<std::int64_t>());
        if (cls < 0 || cls >= static_cast<int>(fashionNouns().size()))
            throw Error("captions: label " + std::to_string(cls) + " is not a Fashion-MNIST class");
        const auto nouns = static_cast<double>(fashionNouns()[static_cast<std::size_t>(cls)].size());
        const auto noun = static_cast<int>(nounDraws[i].item<double>() * nouns);
        batch.captions.push_back(fashionCaption(cls, static_cast<int>(batch.colours[i].item<std::int64_t>()),
            static_cast<int>(templates[i].item<std::int64_t>()), noun));
    }
    return batch;
}

} // namespace lethe::data
