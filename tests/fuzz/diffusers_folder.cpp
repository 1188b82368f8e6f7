// The diffusers-folder loader. The input is ten files separated by "@@@" lines: model_index.json, the UNet,
// text encoder, VAE and scheduler configs, the tokenizer's vocab.json and merges.txt, and the UNet, text
// encoder and VAE weights (safetensors). Empty parts are left out of the folder. The folder is loaded the way
// `lethe-cli` loads a model.
#include "fuzz_support.h"

#include "core/error.h"
#include "core/models/sd/stable_diffusion.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const char* names[] = {
        "model_index.json",
        "unet/config.json",
        "text_encoder/config.json",
        "vae/config.json",
        "scheduler/scheduler_config.json",
        "tokenizer/vocab.json",
        "tokenizer/merges.txt",
        "unet/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
    };
    const std::size_t count = sizeof(names) / sizeof(names[0]);
    const auto parts = lethe::fuzz::splitParts(data, size, count);
    const auto folder = lethe::fuzz::freshFolder() / "model";
    for (std::size_t i = 0; i < count; ++i) {
        if (!parts[i].empty())
            lethe::fuzz::writeFile(folder / names[i], parts[i]);
    }
    try {
        (void)lethe::models::sd::loadStableDiffusion(folder, {});
    } catch (const lethe::Error&) {
    }
    return 0;
}
