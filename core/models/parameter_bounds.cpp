#include "parameter_bounds.h"

#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/models/clip/clip_model.h"
#include "core/models/edm/edm_precond.h"
#include "core/models/sd/autoencoder_kl.h"
#include "core/models/sd/clip_text_layers.h"
#include "core/models/sd/unet_2d_condition.h"

#include <cstdio>

namespace lethe::models {

void requireWeightsFor(double minimumParameters, const io::SafetensorsFile& file, const std::string& config)
{
    double values = 0;
    for (const io::TensorEntry& entry : file.entries()) {
        double count = 1;
        for (const std::int64_t dim : entry.shape)
            count *= static_cast<double>(dim);
        values += count;
    }
    if (minimumParameters <= values)
        return;
    const auto text = [](double count) {
        if (count < 1e15)
            return std::to_string(static_cast<long long>(count));
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.3g", count);
        return std::string(buffer);
    };
    throw FormatError(file.path().string(), "",
        "holds " + text(values) + " values, but " + config + " describes a network of at least "
            + text(minimumParameters)
            + " parameters: the config and the weights do not belong together (refused before allocating)");
}

double minimumParameters(const EDMPrecondOptions& options)
{
    const SongUNetOptions& o = options.model();
    const double base = static_cast<double>(o.model_channels());
    const double emb = base * static_cast<double>(o.channel_mult_emb());
    const double noise = base * static_cast<double>(o.channel_mult_noise());
    const double blocks = static_cast<double>(o.num_blocks());
    double count = noise * emb + emb * emb + static_cast<double>(o.label_dim() + o.augment_dim()) * noise;
    for (const std::int64_t mult : o.channel_mult()) {
        const double c = base * static_cast<double>(mult);
        // Each block's second 3×3 convolution and its embedding projection; the decoder has one block more.
        count += (2 * blocks + 1) * (9 * c * c + emb * c);
    }
    return count + 9 * base * static_cast<double>(o.in_channels() + o.out_channels());
}

} // namespace lethe::models

namespace lethe::models::sd {

double minimumParameters(const ClipEncoderOptions& options)
{
    const double width = static_cast<double>(options.hidden_size());
    const double perLayer = 4 * width * width + 2 * width * static_cast<double>(options.intermediate_size());
    return static_cast<double>(options.num_hidden_layers()) * perLayer;
}

double minimumParameters(const ClipTextOptions& options)
{
    const double rows
        = static_cast<double>(options.vocab_size()) + static_cast<double>(options.max_position_embeddings());
    return rows * static_cast<double>(options.hidden_size()) + minimumParameters(clipEncoderOptions(options));
}

double minimumParameters(const UNet2DConditionOptions& options)
{
    const auto& channels = options.block_out_channels();
    if (channels.empty())
        return 0;
    const auto number = [](const std::vector<std::int64_t>& values, std::size_t i) {
        return i < values.size() ? static_cast<double>(values[i]) : 0.0;
    };
    const auto crossAttention = [](const std::vector<std::string>& types, std::size_t i) {
        return i < types.size() && types[i].rfind("CrossAttn", 0) == 0;
    };
    const std::size_t levels = channels.size();
    const double c0 = static_cast<double>(channels.front());
    const double temb = options.time_embedding_dim() ? static_cast<double>(*options.time_embedding_dim()) : 4 * c0;
    const double cross = static_cast<double>(options.cross_attention_dim());
    // A resnet's 3×3 convolution c → c and its time projection; a transformer's self- and cross-attention
    // projections and its feed-forward (GEGLU c → 8c, then 4c → c).
    const auto resnet = [&](double c) { return 9 * c * c + temb * c; };
    const auto transformer = [&](double c) { return 18 * c * c + 2 * c * cross; };

    // conv_in, conv_out and the time embedding's two linear layers.
    double count
        = 9 * c0 * static_cast<double>(options.in_channels() + options.out_channels()) + c0 * temb + temb * temb;
    if (options.addition_embed_type() == "text_time") // SDXL's add_embedding
        count += static_cast<double>(options.projection_class_embeddings_input_dim()) * temb + temb * temb;
    for (std::size_t i = 0; i < levels; ++i) {
        const double c = static_cast<double>(channels[i]);
        const double layers = number(options.layers_per_block(), i);
        const double depth = number(options.transformer_layers_per_block(), i);
        count += (2 * layers + 1) * resnet(c); // the down path's resnets and the up path's, one more
        if (crossAttention(options.down_block_types(), i))
            count += layers * depth * transformer(c);
        if (crossAttention(options.up_block_types(), levels - 1 - i))
            count += (layers + 1) * depth * transformer(c);
    }
    const double last = static_cast<double>(channels.back());
    count += 2 * resnet(last) + number(options.transformer_layers_per_block(), levels - 1) * transformer(last);
    return count;
}

double minimumParameters(const AutoencoderKLOptions& options)
{
    const auto& channels = options.block_out_channels();
    if (channels.empty())
        return 0;
    const double first = static_cast<double>(channels.front());
    const double last = static_cast<double>(channels.back());
    const double latent = static_cast<double>(options.latent_channels());
    const double layers = static_cast<double>(options.layers_per_block());
    // The encoder's and decoder's outer convolutions.
    double count
        = 9 * first * static_cast<double>(options.in_channels() + options.out_channels()) + 9 * last * 3 * latent;
    // Each resnet's second 3×3 convolution c → c: the encoder has `layers` per level, the decoder one more, and
    // each mid block two.
    for (const std::int64_t c : channels)
        count += (2 * layers + 1) * 9 * static_cast<double>(c) * static_cast<double>(c);
    return count + 4 * 9 * last * last;
}

} // namespace lethe::models::sd

namespace lethe::models::clip {

double minimumParameters(const ClipModelOptions& options)
{
    const ClipVisionOptions& vision = options.vision();
    const double width = static_cast<double>(vision.hidden_size());
    const double side = static_cast<double>(vision.image_size()) / static_cast<double>(vision.patch_size());
    const double patch = static_cast<double>(vision.patch_size());
    const double visionEmbeddings
        = (side * side + 1) * width + static_cast<double>(vision.num_channels()) * patch * patch * width;
    const double projections
        = (width + static_cast<double>(options.text().hidden_size())) * static_cast<double>(options.projection_dim());
    return sd::minimumParameters(options.text()) + visionEmbeddings
        + sd::minimumParameters(sd::clipEncoderOptions(vision)) + projections;
}

} // namespace lethe::models::clip
