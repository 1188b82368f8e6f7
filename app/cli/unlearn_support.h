#pragma once

// What `unlearn`, `sweep` and `bench unlearn` share: the run-config flags and the inputs of a run.
#include "core/data/image_set.h"
#include "core/eval/generation_eval.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/store/edm_model.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/session.h"

#include "config_flags.h"
#include "run_observer.h"

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
class Option;
} // namespace CLI

namespace lethe::cli {

/// --preset, --config and the per-field flags; only the flags given on the command line override.
struct RunConfigFlags : ConfigFlags<unlearn::RunConfig> {
    std::string preset = "cpu-fast";
    std::string configFile;
    std::string onNan;
    bool noEval = false;
};

/// Adds the flags to `cmd`. `withAlphaLambda` false leaves --alpha and --lambda to the caller (sweep lists).
void addRunConfigFlags(CLI::App* cmd, RunConfigFlags& flags, bool withAlphaLambda);

/// The preset, then the config file's keys, then the flags given; validated.
unlearn::RunConfig buildRunConfig(const RunConfigFlags& flags);

/// The model, data and (when measuring) classifier and real-image features of unlearning runs.
struct UnlearnInputs {
    std::string modelPath;
    store::EdmModel model;
    data::ImageSet train;
    std::optional<models::LoadedClassifier> classifier;
    std::optional<eval::RealFeatures> real;

    /// The class's name, or its number when the model has no names.
    std::string className(int label) const;
};

/// Loads the model (empty: the built-in one), the training split of `data`, and with `evaluate` the
/// classifier (empty: the built-in one) and the test split's features. Checks every forget class.
UnlearnInputs loadUnlearnInputs(const std::string& model, const std::string& data, const std::string& classifier,
    bool evaluate, const std::vector<int>& forgetClasses, torch::Device device);

/// Adds --model, --data and --classifier.
void addInputFlags(CLI::App* cmd, std::string& model, std::string& data, std::string& classifier);

} // namespace lethe::cli
