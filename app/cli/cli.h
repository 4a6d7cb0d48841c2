#pragma once

#include <QCommandLineParser>
#include <QJsonValue>
#include <QString>
#include <QStringList>
#include <functional>

namespace recwb::cli {

// One subcommand: its parser is set up by `setup`, then `run` gets the parsed options.
struct Command {
    QString name;
    QString summary;
    std::function<void(QCommandLineParser&)> setup;
    std::function<int(QCommandLineParser&)> run;
};

// Each commands_*.cpp registers its commands through a static Registrar.
QList<Command>& registry();
struct Registrar {
    explicit Registrar(Command c) { registry().append(std::move(c)); }
};

// Output helpers: stdout for results, stderr for one-line errors and progress.
void out(const QString& text);
void err(const QString& text);
QString requireOption(const QCommandLineParser& p, const QString& name);
// A parameter value typed on the command line: a number, true/false, else a string.
QJsonValue jsonValueFromText(const QString& text);
// A progress printer for TaskControl that writes to stderr only when it is a terminal.
std::function<void(double, const QString&)> progressPrinter();

} // namespace recwb::cli
