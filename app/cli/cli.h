#pragma once

#include "util/error.h"

#include <QCommandLineParser>
#include <QJsonValue>
#include <QString>
#include <QStringList>
#include <functional>
#include <optional>

namespace recwb {
class Dataset;
}
namespace recwb::rerank {
struct PromptUser;
}
namespace recwb::pipeline {
class RerankService;
struct RerankRequest;
struct RerankReply;
}

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

// A bad command line (missing or unknown option value, a value out of range): main()
// prints it and exits with code 2, as docs/IMPORT.md says; other Errors exit 1.
class UsageError : public Error {
public:
    using Error::Error;
};

// Output helpers: stdout for results, stderr for one-line errors and progress.
void out(const QString& text);
void err(const QString& text);
QString requireOption(const QCommandLineParser& p, const QString& name);
// Linux: puts the calling thread, and every thread it starts from then on, under SCHED_BATCH
// (no privilege needed). A rerank of many users is a batch job: its threads then stop
// preempting each other on every wake-up, so the stages of one user (enrichment, rendering,
// parsing) run without waiting behind the network thread (docs/PERFORMANCE.md, issue 10).
// RECWB_SCHED=other keeps the normal policy. Call before any thread is started. Returns
// whether the policy was set.
bool useBatchScheduling();
// A parameter value typed on the command line: a number, true/false, else a string.
QJsonValue jsonValueFromText(const QString& text);
// A progress printer for TaskControl that writes to stderr only when it is a terminal.
std::function<void(double, const QString&)> progressPrinter();

// Options and values every command shares.
inline const QString kWorkspace = QStringLiteral("workspace");
inline const QString kJson = QStringLiteral("json");
void addWorkspaceOption(QCommandLineParser& p); // -w, --workspace FILE
QString compact(const QJsonValue& v); // one-line JSON of an object or array
// The first positional argument, which must be one of `accepted` (else a usage error).
QString action(const QCommandLineParser& p, const QStringList& accepted, const QString& command);
// --name as an integer / a number; fallback (nullopt) when absent; a UsageError when not one.
int intOption(const QCommandLineParser& p, const QString& name, int fallback);
// The same within [min, max] (a UsageError naming the range otherwise; the fallback is not checked).
int intOption(const QCommandLineParser& p, const QString& name, int fallback, int min, int max);
std::optional<double> doubleOption(const QCommandLineParser& p, const QString& name);
// Submits a request to the rerank service and waits for its reply, running this thread's
// event loop meanwhile (the service works on its own thread); progress goes to stderr.
pipeline::RerankReply awaitRerank(pipeline::RerankService& service, pipeline::RerankRequest request);

// What-if histories (nothing is stored): --without ID,ID drops items from the user's
// history, --with ID,ID adds catalog items as their latest interactions.
void addWhatIfOptions(QCommandLineParser& p);
bool hasWhatIf(const QCommandLineParser& p);
// The user's history edited by those options. Throws UsageError naming an id that is not
// in the catalog, a --without id that is not in the history, or a --with id already in it.
rerank::PromptUser whatIfUser(const QCommandLineParser& p, const Dataset& ds, int32_t user);

} // namespace recwb::cli
