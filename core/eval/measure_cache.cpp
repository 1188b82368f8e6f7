#include "measure_cache.h"

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_text.h"
#include "core/io/safetensors.h"
#include "core/io/sha256.h"

#include <spdlog/spdlog.h>

#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace lethe::eval {

namespace {

std::filesystem::path fromEnvironment(const char* name)
{
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::filesystem::path(value) : std::filesystem::path();
}

/// The images' tensor and the metadata entry holding their key in an images file.
constexpr const char* kImagesTensor = "images";
constexpr const char* kKeyMetadata = "key";

std::string shapeText(const std::vector<std::int64_t>& sizes)
{
    std::string text;
    for (const std::int64_t size : sizes)
        text += (text.empty() ? "" : ", ") + std::to_string(size);
    return "[" + text + "]";
}

} // namespace

std::filesystem::path defaultMeasureCacheDir()
{
    if (auto dir = fromEnvironment("LETHE_CACHE_DIR"); !dir.empty())
        return dir / "measures";
    if (auto dir = fromEnvironment("XDG_CACHE_HOME"); !dir.empty())
        return dir / "lethe" / "measures";
    if (auto dir = fromEnvironment("HOME"); !dir.empty())
        return dir / ".cache" / "lethe" / "measures";
    return {};
}

MeasureCache::MeasureCache(std::filesystem::path dir)
    : m_dir(std::move(dir))
{
}

std::filesystem::path MeasureCache::fileFor(const nlohmann::json& key) const
{
    return m_dir / (io::sha256Hex(key.dump()) + ".json");
}

std::optional<nlohmann::json> MeasureCache::read(const nlohmann::json& key) const
{
    if (!enabled())
        return std::nullopt;
    const std::filesystem::path file = fileFor(key);
    std::ifstream in(file, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::stringstream text;
    text << in.rdbuf();
    const nlohmann::json entry = nlohmann::json::parse(text.str(), nullptr, false);
    if (entry.is_discarded() || !entry.is_object() || !entry.contains("figures")
        || entry.value("key", nlohmann::json()) != key) {
        spdlog::warn("measure cache: ignoring {} (unreadable, or written for another key)", file.string());
        return std::nullopt;
    }
    return entry.at("figures");
}

void MeasureCache::write(const nlohmann::json& key, const nlohmann::json& figures) const
{
    if (!enabled())
        return;
    const std::filesystem::path file = fileFor(key);
    try {
        std::filesystem::create_directories(m_dir);
        io::writeFileAtomically(file, io::jsonText({ { "key", key }, { "figures", figures } }, 2));
    } catch (const std::exception& e) {
        spdlog::warn("measure cache: could not write {}: {}", file.string(), e.what());
    }
}

std::filesystem::path MeasureCache::imagesFileFor(const nlohmann::json& key) const
{
    return m_dir / (io::sha256Hex(key.dump()) + ".safetensors");
}

std::optional<torch::Tensor> MeasureCache::readImages(
    const nlohmann::json& key, const std::vector<std::int64_t>& sizes) const
{
    if (!enabled())
        return std::nullopt;
    const std::filesystem::path file = imagesFileFor(key);
    if (!std::filesystem::exists(file))
        return std::nullopt;
    try {
        const io::SafetensorsFile stored(file);
        const auto storedKey = stored.metadata().find(kKeyMetadata);
        if (storedKey == stored.metadata().end() || nlohmann::json::parse(storedKey->second, nullptr, false) != key) {
            spdlog::warn("measure cache: ignoring {} (written for another key)", file.string());
            return std::nullopt;
        }
        const io::TensorEntry& entry = stored.entry(kImagesTensor);
        if (entry.dtype != io::DType::U8 || entry.shape != sizes) {
            spdlog::warn("measure cache: ignoring {} (images of type {} and shape {}, expected U8 {})", file.string(),
                io::dtypeName(entry.dtype), shapeText(entry.shape), shapeText(sizes));
            return std::nullopt;
        }
        return stored.tensor(kImagesTensor);
    } catch (const std::exception& e) {
        spdlog::warn("measure cache: ignoring {} (unreadable: {})", file.string(), e.what());
        return std::nullopt;
    }
}

void MeasureCache::writeImages(const nlohmann::json& key, const torch::Tensor& images) const
{
    if (!enabled())
        return;
    const std::filesystem::path file = imagesFileFor(key);
    try {
        if (images.scalar_type() != torch::kUInt8)
            throw Error("the images are not uint8");
        std::filesystem::create_directories(m_dir);
        io::writeSafetensors(file, { { kImagesTensor, images } }, { { kKeyMetadata, key.dump() } });
    } catch (const std::exception& e) {
        spdlog::warn("measure cache: could not write {}: {}", file.string(), e.what());
    }
}

} // namespace lethe::eval
