#include "attack_support.h"

#include "cli_support.h"
#include "measure_flags.h"

#include "core/diffusion/class_sampling.h"
#include "core/enum_names.h"
#include "core/error.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/clip/clip_model.h"
#include "core/runtime.h"

#include <CLI/CLI.hpp>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace lethe::cli {

namespace {

/// `options` with the flags both attacks share applied.
template <typename Options> Options withSharedFlags(Options options, const AttackFlags& flags)
{
    if (flags.steps > 0)
        options.steps = flags.steps;
    if (flags.lr > 0)
        options.lr = flags.lr;
    options.seed = flags.seed;
    return options;
}

} // namespace

attack::PromptAttackOptions AttackFlags::promptOptions() const
{
    attack::PromptAttackOptions o = withSharedFlags(prompt, *this);
    o.placement = *enumFromName<attack::TokenPlacement>(placement);
    return o;
}

attack::ClassAttackOptions AttackFlags::classOptions() const
{
    return withSharedFlags(classAttack, *this);
}

void addAttackFlags(CLI::App* cmd, AttackFlags& flags)
{
    cmd->add_option("--attack-tokens", flags.prompt.tokens, "Prompt attacks: adversarial tokens K")
        ->capture_default_str()
        ->check(CLI::Range(1, 32));
    cmd->add_option("--attack-placement", flags.placement,
           "Prompt attacks: the tokens before the prompt (prefix, UnlearnDiffAtk's default) or after it (suffix)")
        ->capture_default_str()
        ->check(CLI::IsMember({ "prefix", "suffix" }));
    cmd->add_option("--attack-steps", flags.steps,
           "Optimisation steps (default: 40 for prompt attacks, as UnlearnDiffAtk; 100 for the class attack)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--attack-lr", flags.lr,
           "Learning rate (default: 0.01 for prompt attacks, AdamW as UnlearnDiffAtk; 0.05 for the class attack, "
           "Adam)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--attack-weight-decay", flags.prompt.weightDecay, "Prompt attacks: AdamW's weight decay")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--attack-timesteps", flags.prompt.timestepsPerStep,
           "Prompt attacks: timesteps (each with its own noise) averaged in one step's loss")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    cmd->add_option("--attack-batch", flags.classAttack.batch, "Class attack: target images per step")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--attack-seed", flags.seed,
           "Seed of the initial tokens, the timesteps and the noise (prompt i uses seed + i)")
        ->capture_default_str();
}

std::optional<attack::AttackOutcome> runClassAttackOn(store::EdmModel& unlearned, store::EdmModel& base, int forgotten,
    ClassAttackSettings settings, torch::Device device, bool verbose)
{
    if (forgotten < 0 || forgotten >= unlearned.classCount())
        throw Error("attack: class " + std::to_string(forgotten) + " is not one of the model's classes 0–"
            + std::to_string(unlearned.classCount() - 1));
    settings.setup.forgotten = forgotten;
    settings.setup.className = unlearned.info.classes.size() > static_cast<std::size_t>(forgotten)
        ? unlearned.info.classes[static_cast<std::size_t>(forgotten)]
        : std::to_string(forgotten);
    attack::Judge judge;
    if (!settings.clip.empty()) {
        std::vector<std::string> names
            = settings.clipNames.empty() ? io::zeroShotNames(unlearned.info) : splitNames(settings.clipNames);
        if (names.size() != static_cast<std::size_t>(unlearned.classCount()))
            throw Error("attack: --clip-names gives " + std::to_string(names.size()) + " names, the model has "
                + std::to_string(unlearned.classCount()) + " classes");
        judge = attack::zeroShotClipJudge(std::make_shared<eval::ZeroShotClip>(eval::makeZeroShotClip(
                                              models::clip::loadClip(settings.clip, device), names)),
            forgotten);
    } else {
        models::LoadedClassifier classifier = models::loadClassifier(settings.classifier.empty()
                ? resourceFile(std::string("models/") + kBuiltinClassifier)
                : std::filesystem::path(settings.classifier),
            device);
        if (classifier.info.classes.size() != static_cast<std::size_t>(unlearned.classCount()))
            throw Error("attack: the classifier knows " + std::to_string(classifier.info.classes.size())
                + " classes, the model " + std::to_string(unlearned.classCount()));
        judge = attack::classifierJudge(classifier.model, forgotten, settings.setup.className, device);
    }
    const attack::ClassAttackOptions& a = settings.setup.attack;
    if (verbose)
        std::cout << "attack      class (a label vector from class " << forgotten << "'s one-hot row; " << a.steps
                  << " steps, lr " << a.lr << ", batch " << a.batch << ")\nmodel       " << unlearned.path.string()
                  << "\ntargets     " << base.path.string() << ", " << settings.setup.targetSeeds.size()
                  << " images of class " << forgotten << " (" << settings.setup.className << ")\njudge       "
                  << judge.description << "\nimages      " << settings.setup.seeds.size() << " seeds, Heun "
                  << settings.setup.sampler.steps << " steps\n";
    CancelOnInterrupt interrupt;
    ProgressLine line;
    auto outcome = attack::runClassAttack(
        unlearned.net, base.net, settings.setup, judge, device, [&](const attack::AttackProgressEvent& e) {
            std::ostringstream text;
            if (e.phase == "attack") {
                text << "class attack step " << e.step << "/" << e.steps;
                if (std::isfinite(e.loss))
                    text << "  loss " << std::setprecision(4) << e.loss;
            } else {
                text << "drawing the " << e.phase << (e.phase == "targets" ? "" : " images") << ": step " << e.step
                     << "/" << e.steps;
            }
            if (verbose)
                line.update(text.str(), e.step == e.steps);
            return !CancelOnInterrupt::requested();
        });
    line.clear();
    return outcome;
}

} // namespace lethe::cli
