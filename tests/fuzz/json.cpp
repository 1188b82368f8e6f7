// The readers of JSON configs, manifests and descriptions. The first byte picks the reader, the rest is the
// file: an EDM architecture, a run config, UNet / VAE / CLIP text configs, a scheduler config, a prompt set
// (.json, and .csv), a diversity preset, the 'lethe' description of a model file, or model_index.json.
#include "fuzz_support.h"

#include "core/concept/diversity_preset.h"
#include "core/concept/prompt_set.h"
#include "core/diffusion/ddpm_sampler.h"
#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/io/model_file.h"
#include "core/io/safetensors.h"
#include "core/models/edm/edm_config.h"
#include "core/models/sd/autoencoder_kl.h"
#include "core/models/sd/clip_text_model.h"
#include "core/models/sd/diffusers_folder.h"
#include "core/models/sd/unet_2d_condition.h"
#include "core/unlearn/concept_config.h"
#include "core/unlearn/run_config.h"

namespace {

namespace concepts = lethe::concepts;

void readConfig(std::uint8_t reader, const std::filesystem::path& folder, const std::string& text)
{
    const auto config = folder / "config.json";
    switch (reader % 11) {
    case 0:
        lethe::fuzz::writeFile(config, text);
        (void)lethe::models::edmOptionsFromJson(lethe::io::readJsonObjectFile(config));
        break;
    case 1: {
        // Both run configs go through the same field table (io::configFromJson).
        lethe::fuzz::writeFile(config, text);
        const nlohmann::json json = lethe::io::readJsonObjectFile(config);
        try {
            (void)lethe::io::configFromJson<lethe::unlearn::RunConfig>(json);
        } catch (const lethe::Error&) {
            // A refusal is the expected outcome; the concept reader gets the same text next.
        }
        (void)lethe::io::configFromJson<lethe::unlearn::ConceptConfig>(json);
        break;
    }
    case 2:
        lethe::fuzz::writeFile(config, text);
        (void)lethe::models::sd::unetOptionsFromConfig(lethe::io::readJsonObjectFile(config), config.string());
        break;
    case 3:
        lethe::fuzz::writeFile(config, text);
        (void)lethe::models::sd::vaeOptionsFromConfig(lethe::io::readJsonObjectFile(config), config.string());
        break;
    case 4:
        lethe::fuzz::writeFile(config, text);
        (void)lethe::models::sd::clipTextOptionsFromJson(lethe::io::readJsonObjectFile(config), config.string());
        break;
    case 5:
        lethe::fuzz::writeFile(config, text);
        (void)lethe::diffusion::ddpmScheduleFromJson(lethe::io::readJsonObjectFile(config), config.string());
        break;
    case 6:
    case 7: {
        const auto path = folder / (reader % 11 == 6 ? "prompts.json" : "prompts.csv");
        lethe::fuzz::writeFile(path, text);
        (void)concepts::loadPromptSet(path);
        break;
    }
    case 8: {
        const auto path = folder / "preset.json";
        lethe::fuzz::writeFile(path, text);
        const auto spec = concepts::loadDiversityPreset(path);
        for (const auto split :
            { concepts::PromptSplit::Forget, concepts::PromptSplit::RemainTrain, concepts::PromptSplit::RemainTest }) {
            (void)concepts::combinationCount(concepts::templateSlots(spec, split));
            (void)concepts::splitCount(spec, split);
        }
        break;
    }
    case 9: {
        // A model file whose only content is the description.
        const auto path = folder / "model.safetensors";
        lethe::io::writeSafetensors(path, {}, { { "format", lethe::io::kFormatTag }, { "lethe", text } });
        (void)lethe::io::readModelInfo(lethe::io::SafetensorsFile(path));
        break;
    }
    default:
        lethe::fuzz::writeFile(folder / "model_index.json", text);
        (void)lethe::models::sd::readModelIndex(folder);
        break;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    try {
        readConfig(data[0], lethe::fuzz::freshFolder(), std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
    } catch (const lethe::Error&) {
    }
    return 0;
}
