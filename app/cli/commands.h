#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace lethe::cli {

/// Options every command shares, and the process's exit code.
struct GlobalOptions {
    int threads = 0;
    std::string logLevel = "info";
    int exitCode = 0;
    /// The command resumes when it is run again (unlearn --resume, sweep): stopped by SIGTERM or SIGUSR1, it exits
    /// with kExitCheckpointed (cli_support.h).
    bool resumable = false;
    /// `--parse-only` (hidden): parse the command line, then run nothing (tests/docs checks the documented commands).
    bool parseOnly = false;
    /// The process's arguments, for the provenance of files the commands write.
    int argc = 0;
    const char* const* argv = nullptr;
};

/// Runs a command body with the shared start-up (log sink, thread count) and turns core errors into a
/// message on stderr and exit code 1.
void runCommand(GlobalOptions& global, const std::function<void()>& body);

/// `data info`: classes and counts of a data set.
void addDataCommands(CLI::App& app, GlobalOptions& global);

/// `train-classifier` and `classify`: the evaluation classifier behind UA, RA, FD_cls and KID_cls.
void addClassifierCommands(CLI::App& app, GlobalOptions& global);

/// `pretrain` and `sample`: EDM diffusion models.
void addEdmCommands(CLI::App& app, GlobalOptions& global);

/// `eval` and `bench`: measuring models and the speed of the core loops.
void addEvalCommands(CLI::App& app, GlobalOptions& global);

/// `unlearn`, `export` and `bench unlearn`: forget one class of a class-conditional model, headless.
/// Registers after addEvalCommands (it extends `bench`).
void addUnlearnCommands(CLI::App& app, GlobalOptions& global);

/// `generate` and `bench generate`: text-to-image models. Registers after addEvalCommands (it extends `bench`).
void addGenerateCommands(CLI::App& app, GlobalOptions& global);

/// `pretrain-t2i`: the built-in kind of text-to-image model, trained from scratch.
void addT2iCommands(CLI::App& app, GlobalOptions& global);

/// `init-t2i`: a text-to-image model with random weights from diffusers component configs (real-scale measurements).
void addInitCommands(CLI::App& app, GlobalOptions& global);

/// `unlearn-concept`: make a text-to-image model forget a concept (RGD, GradDiff, GA, ESD).
void addConceptCommands(CLI::App& app, GlobalOptions& global);

/// `attack` and `bench attack`: adversarial prompts and label vectors against unlearned models. Registers after
/// addEvalCommands (it extends `bench`).
void addAttackCommands(CLI::App& app, GlobalOptions& global);

/// `sweep`: unlearning runs over α × λ × methods × forget classes, resumable, whole or split into tasks (a
/// cluster job array) whose folders are merged afterwards.
void addSweepCommands(CLI::App& app, GlobalOptions& global);

/// `sweep-merge`: joins the task folders of a split sweep. Registers after addSweepCommands.
void addSweepMergeCommand(CLI::App& app, GlobalOptions& global);

/// `sweep-status`: how far every task of a split sweep has got. Registers after addSweepMergeCommand.
void addSweepStatusCommand(CLI::App& app, GlobalOptions& global);

} // namespace lethe::cli
