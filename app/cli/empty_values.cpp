#include "empty_values.h"

namespace lethe::cli {

namespace {

/// Whether `app` or one of its subcommands, at any depth, has an option `--name` that takes a value.
bool takesValue(const CLI::App& app, const std::string& name)
{
    for (const CLI::Option* option : app.get_options())
        if (option->check_lname(name) && option->get_items_expected_max() > 0)
            return true;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        if (takesValue(*sub, name))
            return true;
    return false;
}

} // namespace

std::vector<std::string> splitEmptyValues(const CLI::App& app, int argc, const char* const* argv)
{
    std::vector<std::string> words;
    words.reserve(static_cast<std::size_t>(argc) + 1);
    bool positionalOnly = false;
    for (int i = 0; i < argc; ++i) {
        const std::string word = argv[i];
        if (word == "--")
            positionalOnly = true;
        // "--name=": at least one character of name, and the "=" last.
        if (i > 0 && !positionalOnly && word.size() > 3 && word.compare(0, 2, "--") == 0 && word.back() == '='
            && word.find('=') == word.size() - 1 && takesValue(app, word.substr(2, word.size() - 3))) {
            words.push_back(word.substr(0, word.size() - 1));
            words.emplace_back();
            continue;
        }
        words.push_back(word);
    }
    return words;
}

ArgumentVector::ArgumentVector(std::vector<std::string> words)
    : m_words(std::move(words))
{
    for (std::string& word : m_words)
        m_pointers.push_back(word.data());
}

} // namespace lethe::cli
