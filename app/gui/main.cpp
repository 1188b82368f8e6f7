// lethe: the unlearning workbench GUI.
#include "main_window.h"

#include "core/runtime.h"

#include <QApplication>
#include <QCommandLineParser>

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
    QCommandLineOption dataOption(QStringLiteral("data"), QStringLiteral("Data set to open (default: fashion-mnist)."),
                                  QStringLiteral("spec"), QStringLiteral("fashion-mnist"));
    QCommandLineOption threadsOption(QStringLiteral("threads"), QStringLiteral("LibTorch CPU threads (0 = all)."),
                                     QStringLiteral("n"), QStringLiteral("0"));
    parser.addOption(dataOption);
    parser.addOption(threadsOption);
    parser.process(app);

    lethe::configureThreads(parser.value(threadsOption).toInt());

    lethe::gui::MainWindow window;
    window.show();
    window.openDataset(parser.value(dataOption));
    return QApplication::exec();
}
