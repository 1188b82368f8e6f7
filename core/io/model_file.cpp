#include "model_file.h"

#include "core/error.h"
#include "core/io/json_number.h"
#include "core/io/json_text.h"

#include <ctime>

namespace lethe::io {

using nlohmann::json;

json toJson(const Provenance& p)
{
    return { { "parent_sha256", p.parentSha256 }, { "method", p.method }, { "command", p.command }, { "seed", p.seed },
        { "steps", p.steps }, { "images_seen", p.imagesSeen }, { "wall_seconds", p.wallSeconds },
        { "created", p.created }, { "hyperparameters", p.hyperparameters } };
}

Provenance provenanceFromJson(const json& j, const std::string& file)
{
    if (!j.is_object())
        throw FormatError(
            file, "__metadata__ 'lethe' provenance", "expected an object, found " + std::string(j.type_name()));
    Provenance p;
    p.parentSha256 = j.value("parent_sha256", "");
    p.method = j.value("method", "");
    p.command = j.value("command", "");
    p.seed = j.value("seed", std::uint64_t { 0 });
    p.steps = j.value("steps", std::int64_t { 0 });
    p.imagesSeen = j.value("images_seen", std::int64_t { 0 });
    p.wallSeconds = j.value("wall_seconds", 0.0);
    p.created = j.value("created", "");
    p.hyperparameters = j.value("hyperparameters", json::object());
    return p;
}

json toJson(const ModelInfo& info)
{
    json out = { { "format_version", kFormatVersion }, { "kind", info.kind }, { "architecture", info.architecture },
        { "classes", info.classes }, { "dataset", info.dataset }, { "provenance", toJson(info.provenance) } };
    if (!info.zeroShotNames.empty())
        out["zero_shot_names"] = info.zeroShotNames;
    return out;
}

const std::vector<std::string>& zeroShotNames(const ModelInfo& info)
{
    return info.zeroShotNames.empty() ? info.classes : info.zeroShotNames;
}

ModelInfo readModelInfo(const SafetensorsFile& file)
{
    const std::string path = file.path().string();
    const auto it = file.metadata().find(kMetadataKey);
    if (it == file.metadata().end())
        throw FormatError(path, "__metadata__",
            "no 'lethe' description: this is not a Lethe model file (convert NVlabs EDM "
            "checkpoints with scripts/edm_pkl_to_safetensors.py)");
    json j;
    try {
        j = json::parse(it->second);
    } catch (const json::parse_error& e) {
        throw FormatError(path, "__metadata__ key 'lethe'", std::string("invalid JSON: ") + e.what());
    } catch (const json::out_of_range& e) {
        throw FormatError(path, "__metadata__ key 'lethe'",
            "invalid JSON: the number " + overflowingNumber(e) + " is out of range of a double");
    }
    const std::string where = "__metadata__ key 'lethe'";
    if (!j.is_object())
        throw FormatError(path, where, "expected a JSON object, found " + std::string(j.type_name()));
    const int version = j.value("format_version", 0);
    if (version < 1 || version > kFormatVersion)
        throw FormatError(path, where + " format_version",
            "expected 1 to " + std::to_string(kFormatVersion) + ", found " + std::to_string(version));
    ModelInfo info;
    try {
        info.kind = j.at("kind").get<std::string>();
        info.architecture = j.at("architecture");
        info.classes = j.value("classes", std::vector<std::string> {});
        info.zeroShotNames = j.value("zero_shot_names", std::vector<std::string> {});
        info.dataset = j.value("dataset", json::object());
    } catch (const json::exception& e) {
        throw FormatError(path, where, std::string("malformed description: ") + e.what());
    }
    if (!info.architecture.is_object())
        throw FormatError(
            path, where + " architecture", "expected an object, found " + std::string(info.architecture.type_name()));
    if (!info.zeroShotNames.empty() && info.zeroShotNames.size() != info.classes.size())
        throw FormatError(path, where + " zero_shot_names",
            "expected " + std::to_string(info.classes.size()) + " names (one per class), found "
                + std::to_string(info.zeroShotNames.size()));
    info.provenance = provenanceFromJson(j.value("provenance", json::object()), path);
    return info;
}

void writeModel(const std::filesystem::path& path, const ModelInfo& info, const std::vector<NamedTensor>& tensors)
{
    writeSafetensors(path, tensors, { { "format", kFormatTag }, { kMetadataKey, jsonText(toJson(info)) } });
}

std::string utcNow()
{
    const std::time_t now = std::time(nullptr);
    std::tm utc {};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

std::string commandLine(int argc, const char* const* argv)
{
    std::string line;
    for (int i = 0; i < argc; ++i) {
        std::string arg = argv[i];
        const bool quote = arg.empty() || arg.find_first_of(" \t\"'$") != std::string::npos;
        if (quote) {
            std::string escaped = "'";
            for (char c : arg)
                escaped += c == '\'' ? std::string("'\\''") : std::string(1, c);
            arg = escaped + "'";
        }
        line += (i ? " " : "") + arg;
    }
    return line;
}

} // namespace lethe::io
