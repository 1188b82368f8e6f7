#pragma once

// The literature's instruments on the class commands (eval, unlearn, sweep): --clip, --clip-names, --inception,
// --fid-ref, --fid-resize, and the measure cache (--no-cache).
#include "core/eval/generation_eval.h"
#include "core/eval/measure_cache.h"
#include "core/io/model_file.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
} // namespace CLI

namespace lethe::cli {

struct MeasureFlags {
    std::string clip; ///< A Hugging Face CLIPModel folder: zero-shot CLIP UA/RA.
    std::string clipNames; ///< Comma-separated class names for the prompts (default: the model file's).
    std::string inception; ///< The detector's safetensors (scripts/inception_to_safetensors.py).
    std::string fidRef; ///< Reference statistics (.npz with mu and sigma).
    std::string fidResize = "edm";
    bool noCache = false;

    /// Whether an instrument is named.
    bool given() const { return !clip.empty() || !inception.empty() || !fidRef.empty(); }
};

/// Adds the flags to `cmd`.
void addMeasureFlags(CLI::App* cmd, MeasureFlags& flags);

/// "a,b,c" → {"a", "b", "c"}: --clip-names (an empty name stays, for zero-shot CLIP to refuse by its place).
std::vector<std::string> splitNames(const std::string& text);

/// Loads the instruments the flags name (none: an empty set); with `evaluate` false (--no-eval) none may be named.
/// Throws Error for --inception without --fid-ref (or the reverse), for --clip-names of another count than the model's
/// classes, and the loaders' errors.
eval::LiteratureInstruments loadInstruments(
    const MeasureFlags& flags, const io::ModelInfo& model, bool evaluate, torch::Device device);

/// The measure cache the flags ask for (disabled with --no-cache).
eval::MeasureCache measureCache(const MeasureFlags& flags);

/// Says on stderr where the base model's figures came from ("read from the measure cache FILE" or "stored in …").
void reportCache(const eval::CachedGenerationEval& cached, const char* what);

/// "CLIP-UA 1.000  CLIP-RA 0.771  FID 6.54 (remaining classes)  FID forgotten 80.1" — the literature figures of one
/// measurement, or nothing without them.
std::string literatureSummary(const eval::GenerationEval& e);

} // namespace lethe::cli
