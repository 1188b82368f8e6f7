// lethe: the unlearning workbench GUI.
#include "main_window.h"
#include "session_worker.h"

#include "core/runtime.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QLibraryInfo>
#include <QLocale>
#include <QSettings>
#include <QTranslator>

#include <filesystem>

namespace {

// The installed translations (<prefix>/share/lethe/translations) come first, so that an updated .qm can be tried
// without a rebuild; the copies compiled into the program are the fallback, e.g. in the build tree.
bool loadTranslation(QTranslator& translator, const QString& language)
{
    const QString name = QStringLiteral("lethe_") + language;
    const std::filesystem::path data = lethe::installedDataDir();
    if (!data.empty() && translator.load(name, QString::fromStdString((data / "translations").string())))
        return true;
    return translator.load(QStringLiteral(":/i18n/") + name);
}

} // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("Lethe"));
    QApplication::setOrganizationName(QStringLiteral("Lethe"));
    QApplication::setApplicationVersion(QStringLiteral(LETHE_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Machine unlearning workbench for diffusion models"));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption modelOption(QStringLiteral("model"),
        QStringLiteral("Model to open (default: the last one, else the built-in Fashion-MNIST model)."),
        QStringLiteral("file"));
    QCommandLineOption dataOption(QStringLiteral("data"),
        QStringLiteral("Data set to open: fashion-mnist or a folder (default: the last one)."), QStringLiteral("spec"));
    QCommandLineOption threadsOption(QStringLiteral("threads"), QStringLiteral("LibTorch CPU threads (0 = all)."),
        QStringLiteral("n"), QStringLiteral("0"));
    QCommandLineOption languageOption(QStringLiteral("language"),
        QStringLiteral("User interface language: en, de or zh_CN (default: the one chosen in the settings)."),
        QStringLiteral("code"));
    parser.addOption(modelOption);
    parser.addOption(dataOption);
    parser.addOption(threadsOption);
    QCommandLineOption deviceOption(QStringLiteral("device"),
        QStringLiteral("Compute device: auto (CUDA when available, else the CPU), cpu, cuda or cuda:N (default: the "
                       "'device' setting, else auto)."),
        QStringLiteral("name"));
    parser.addOption(languageOption);
    parser.addOption(deviceOption);
    parser.process(app);
    if (parser.isSet(deviceOption))
        app.setProperty(lethe::gui::kDeviceProperty, parser.value(deviceOption));

    lethe::configureAllocator(); // Freed feature maps reused, not faulted in again.
    lethe::configureThreads(parser.value(threadsOption).toInt());
    lethe::setTf32Allowed(false); // As the paper's code; a run's allow_tf32 turns it on.

    const QString language = parser.isSet(languageOption)
        ? parser.value(languageOption)
        : QSettings().value(QStringLiteral("language"), QStringLiteral("en")).toString();
    QTranslator translator;
    QTranslator qtTranslator;
    if (language != QStringLiteral("en") && loadTranslation(translator, language)) {
        QApplication::installTranslator(&translator);
        if (qtTranslator.load(QStringLiteral("qtbase_") + language, QLibraryInfo::path(QLibraryInfo::TranslationsPath)))
            QApplication::installTranslator(&qtTranslator);
    }

    lethe::gui::MainWindow window(parser.value(modelOption), parser.value(dataOption));
    window.show();
    return QApplication::exec();
}
