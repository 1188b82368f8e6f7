#pragma once

// The file layout of Stable Diffusion models: a diffusers folder (model_index.json and one folder per
// component) or a CompVis single .safetensors file. Only file facts here; the networks load elsewhere.

#include <filesystem>
#include <map>
#include <string>

namespace lethe::models::sd {

/// One component entry of model_index.json: ["diffusers", "UNet2DConditionModel"].
struct ComponentEntry {
    std::string library; ///< "diffusers", "transformers"; empty for a component set to null.
    std::string className; ///< "UNet2DConditionModel", "CLIPTextModel", "DDIMScheduler", …
};

/// What model_index.json says about a pipeline folder.
struct DiffusersIndex {
    std::filesystem::path folder;
    std::string pipelineClass; ///< _class_name, e.g. "StableDiffusionPipeline".
    std::string diffusersVersion; ///< _diffusers_version, when present.
    std::map<std::string, ComponentEntry> components;
    /// force_zeros_for_empty_prompt (SDXL pipelines): the unguided branch of an empty negative prompt is zeros
    /// rather than the encoded empty prompt. diffusers' default, true, when absent.
    bool forceZerosForEmptyPrompt = true;

    /// True when the component is listed with a class (not null) and its folder exists.
    bool has(const std::string& component) const;
};

/// Reads and checks `folder`/model_index.json: it must list unet, text_encoder, tokenizer and scheduler
/// with the classes Lethe implements (vae may be absent or null: a pixel-space model; SDXL adds text_encoder_2
/// and tokenizer_2, both or neither). Throws IoError or FormatError naming model_index.json and the key, or the
/// missing component folder.
DiffusersIndex readModelIndex(const std::filesystem::path& folder);

/// The weights of one component: `stem`.safetensors, else `stem`.fp16.safetensors. Pickled weights
/// (`stem`.bin, .ckpt, .pt) are refused with the command that converts them; no weights at all is a
/// FormatError naming the folder and the file names tried.
std::filesystem::path componentWeights(const std::filesystem::path& componentFolder, const std::string& stem);

/// How a Stable Diffusion model is stored.
enum class SdSourceKind {
    DiffusersFolder, ///< A folder with model_index.json.
    SingleFile, ///< One CompVis-layout .safetensors file.
};

/// Classifies a path given by the user. Refuses pickles (.ckpt, .bin, .pt, .pth, .pkl) with conversion
/// instructions; a folder without model_index.json or any other file is a FormatError saying what was
/// expected.
SdSourceKind sdSourceKind(const std::filesystem::path& path);

} // namespace lethe::models::sd
