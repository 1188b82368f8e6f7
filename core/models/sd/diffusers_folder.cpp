#include "diffusers_folder.h"

#include "core/error.h"
#include "core/io/json_fields.h"

#include <algorithm>
#include <array>
#include <set>
#include <system_error>

namespace lethe::models::sd {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* const kConvertHint
    = "pickled weights can run arbitrary code when loaded, so Lethe never opens them; convert them to "
      "safetensors in Python first (diffusers: pipe = StableDiffusionPipeline.from_single_file(path) or "
      ".from_pretrained(folder), then pipe.save_pretrained(out, safe_serialization=True))";

bool isPickle(const fs::path& path)
{
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".ckpt" || ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".pkl";
}

bool pathExists(const fs::path& path)
{
    std::error_code ignored;
    return fs::exists(path, ignored);
}

/// The classes Lethe can load for each component it needs.
const std::map<std::string, std::set<std::string>>& supportedClasses()
{
    static const std::map<std::string, std::set<std::string>> classes {
        { "unet", { "UNet2DConditionModel" } },
        { "text_encoder", { "CLIPTextModel" } },
        { "tokenizer", { "CLIPTokenizer", "CLIPTokenizerFast" } },
        { "scheduler",
            { "DDIMScheduler", "PNDMScheduler", "EulerDiscreteScheduler", "DDPMScheduler", "LMSDiscreteScheduler",
                "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler" } },
        { "vae", { "AutoencoderKL" } },
        { "text_encoder_2", { "CLIPTextModelWithProjection" } },
        { "tokenizer_2", { "CLIPTokenizer", "CLIPTokenizerFast" } },
    };
    return classes;
}

} // namespace

bool DiffusersIndex::has(const std::string& component) const
{
    const auto it = components.find(component);
    return it != components.end() && !it->second.className.empty() && pathExists(folder / component);
}

DiffusersIndex readModelIndex(const fs::path& folder)
{
    const fs::path indexPath = folder / "model_index.json";
    if (!pathExists(indexPath))
        throw FormatError(folder.string(), "model_index.json",
            "missing: a diffusers folder holds model_index.json and one folder per component");
    const json object = io::readJsonObjectFile(indexPath);
    const io::JsonFields fields(object, indexPath.string());
    DiffusersIndex index;
    index.folder = folder;
    index.pipelineClass = fields.get<std::string>("_class_name", "");
    index.diffusersVersion = fields.get<std::string>("_diffusers_version", "");
    index.forceZerosForEmptyPrompt = fields.get<bool>("force_zeros_for_empty_prompt", true);
    for (const auto& [key, value] : object.items()) {
        if (key.empty() || key.front() == '_')
            continue;
        if (value.is_null() || (value.is_array() && value.size() == 2 && value[0].is_null() && value[1].is_null())) {
            index.components[key] = {};
            continue;
        }
        if (!value.is_array() || value.size() != 2 || !value[0].is_string() || !value[1].is_string()) {
            // Options such as requires_safety_checker are not components.
            if (value.is_array())
                fields.fail(key, "expected [library, class name], found " + value.dump());
            continue;
        }
        index.components[key] = { value[0].get<std::string>(), value[1].get<std::string>() };
    }
    for (const auto& [component, classes] : supportedClasses()) {
        const auto it = index.components.find(component);
        const bool optional = component == "vae" || component == "text_encoder_2" || component == "tokenizer_2";
        if (it == index.components.end() || it->second.className.empty()) {
            if (optional)
                continue;
            fields.fail(component, "missing: Lethe needs unet, text_encoder, tokenizer and scheduler");
        }
        if (classes.count(it->second.className) == 0) {
            std::string known;
            for (const auto& name : classes)
                known += (known.empty() ? "" : ", ") + name;
            fields.fail(component, "class " + it->second.className + " is not supported (expected " + known + ")");
        }
        if (!pathExists(folder / component))
            throw FormatError(
                folder.string(), component + "/", "missing: model_index.json lists it but the folder does not exist");
    }
    const auto listed = [&](const char* component) {
        const auto it = index.components.find(component);
        return it != index.components.end() && !it->second.className.empty();
    };
    if (listed("text_encoder_2") != listed("tokenizer_2"))
        fields.fail(listed("text_encoder_2") ? "tokenizer_2" : "text_encoder_2",
            "missing: an SDXL pipeline lists text_encoder_2 and tokenizer_2 together");
    return index;
}

fs::path componentWeights(const fs::path& componentFolder, const std::string& stem)
{
    const std::array<fs::path, 2> candidates { componentFolder / (stem + ".safetensors"),
        componentFolder / (stem + ".fp16.safetensors") };
    for (const auto& candidate : candidates)
        if (pathExists(candidate))
            return candidate;
    for (const char* ext : { ".bin", ".fp16.bin", ".ckpt", ".pt" })
        if (pathExists(componentFolder / (stem + ext)))
            throw FormatError((componentFolder / (stem + ext)).string(), "file", kConvertHint);
    throw FormatError(componentFolder.string(), "weights",
        "missing: expected " + candidates[0].filename().string() + " or " + candidates[1].filename().string());
}

SdSourceKind sdSourceKind(const fs::path& path)
{
    std::error_code error;
    if (fs::is_directory(path, error)) {
        if (pathExists(path / "model_index.json"))
            return SdSourceKind::DiffusersFolder;
        throw FormatError(path.string(), "model_index.json",
            "missing: expected a diffusers folder (model_index.json, unet/, text_encoder/, "
            "tokenizer/, scheduler/) or a single .safetensors file");
    }
    if (!pathExists(path))
        throw FormatError(path.string(), "file", "does not exist");
    if (isPickle(path))
        throw FormatError(path.string(), "file", kConvertHint);
    if (path.extension() != ".safetensors")
        throw FormatError(
            path.string(), "file", "expected a diffusers folder or a CompVis single file ending in .safetensors");
    return SdSourceKind::SingleFile;
}

} // namespace lethe::models::sd
