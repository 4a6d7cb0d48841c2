#include "cli.h"

#include "cf/snapshots.h"
#include "data/workspace.h"
#include "pipeline/batchsummary.h"
#include "pipeline/ceiling.h"
#include "pipeline/providerbatch.h"
#include "pipeline/rerankservice.h"
#include "pipeline/shard.h"
#include "rerank/llm/batchapi.h"
#include "rerank/llm/endpointtest.h"
#include "rerank/llm/keystore.h"
#include "rerank/llm/llmclient.h"
#include "rerank/prices.h"
#include "rerank/store.h"
#include "util/error.h"

#include <QDateTime>
#include <QEventLoop>
#include <QSocketNotifier>
#include <QTimer>
#include <csignal>
#include <fcntl.h>
#include <optional>
#include <cmath>
#include <QSet>
#include <QSysInfo>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <iostream>
#include <limits>
#include <string>
#include <termios.h>
#include <unistd.h>

namespace recwb::cli {

namespace {
    int g_interruptPipe[2] = { -1, -1 };
    void onInterrupt(int)
    {
        const char byte = 1;
        [[maybe_unused]] const auto n = ::write(g_interruptPipe[1], &byte, 1); // async-signal-safe
    }
}

pipeline::RerankReply awaitRerank(pipeline::RerankService& service, pipeline::RerankRequest request)
{
    pipeline::RerankReply reply;
    QEventLoop loop;
    // SIGINT cancels the job (stop sending, keep the finished users) through a self-pipe the
    // event loop watches; a second SIGINT (SA_RESETHAND) ends the process as usual.
    if (g_interruptPipe[0] < 0 && ::pipe2(g_interruptPipe, O_CLOEXEC | O_NONBLOCK) != 0)
        g_interruptPipe[0] = g_interruptPipe[1] = -1;
    struct sigaction previous {};
    std::optional<QSocketNotifier> interrupt;
    if (g_interruptPipe[0] >= 0) {
        struct sigaction action {};
        action.sa_handler = onInterrupt;
        action.sa_flags = SA_RESETHAND | SA_RESTART;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGINT, &action, &previous);
        interrupt.emplace(g_interruptPipe[0], QSocketNotifier::Read);
    }
    const auto printer = progressPrinter();
    quint64 job = 0;
    const QMetaObject::Connection progress = QObject::connect(&service, &pipeline::RerankService::jobProgress, &loop,
        [&job, printer](quint64 id, int done, int total) {
            if (id == job && printer && total > 1)
                printer(static_cast<double>(done) / total, QStringLiteral("reranked %1 of %2").arg(done).arg(total));
        });
    const QMetaObject::Connection paused = QObject::connect(&service, &pipeline::RerankService::jobPaused, &loop,
        [&job](quint64 id, const QString& why) {
            if (id == job)
                err(why.isEmpty() ? QStringLiteral("\ngoing on after the circuit breaker pause")
                                  : QStringLiteral("\npaused: ") + why);
        });
    const QMetaObject::Connection finished = QObject::connect(&service, &pipeline::RerankService::jobFinished, &loop,
        [&](quint64 id, const pipeline::RerankReply& r) {
            if (id != job)
                return;
            reply = r;
            loop.quit();
        });
    job = service.submit(std::move(request)); // the reply always comes from a later event-loop turn
    if (interrupt)
        QObject::connect(&*interrupt, &QSocketNotifier::activated, &loop, [&] {
            char drain[16];
            while (::read(g_interruptPipe[0], drain, sizeof drain) > 0) { }
            err(QStringLiteral("\ninterrupted: canceling; the finished users are kept"));
            service.cancel(job);
        });
    loop.exec();
    if (interrupt) {
        interrupt.reset();
        ::sigaction(SIGINT, &previous, nullptr);
    }
    QObject::disconnect(progress);
    QObject::disconnect(paused);
    QObject::disconnect(finished);
    // The last pause line only says the run went on; say when it went on because it gave up.
    const QJsonObject& summary = reply.report.summary;
    const QJsonObject wait = summary.value(QStringLiteral("breaker_wait")).toObject();
    if (wait.value(QStringLiteral("gave_up")).toBool()) {
        const int open = summary.value(QStringLiteral("fallback_reasons"))
                             .toObject()
                             .value(QStringLiteral("call failed: circuit_open"))
                             .toObject()
                             .value(QStringLiteral("users"))
                             .toInt();
        const int probes = wait.value(QStringLiteral("max_failed_probes")).toInt();
        err(QStringLiteral("\ncircuit breaker: gave up waiting once %1 %2 had failed in a row (--breaker-probes; %3 s of "
                           "pauses); %4 %5 the CF order (fallback reason circuit_open)")
                .arg(probes)
                .arg(probes == 1 ? QStringLiteral("probe") : QStringLiteral("probes"))
                .arg(wait.value(QStringLiteral("waited_ms")).toDouble() / 1000.0, 0, 'f', 1)
                .arg(open)
                .arg(open == 1 ? QStringLiteral("user kept") : QStringLiteral("users kept")));
    }
    return reply;
}

namespace {

QString priceText(const std::optional<double>& v)
{
    return v ? QString::number(*v) : QStringLiteral("?");
}

// ---- endpoints ----

    // The endpoint a command names: --name, else the positional argument after the action.
    QString endpointName(const QCommandLineParser& p, const QString& what)
    {
        if (p.isSet(QStringLiteral("name")))
            return requireOption(p, QStringLiteral("name"));
        const QString name = p.positionalArguments().value(1).trimmed();
        if (name.isEmpty())
            throw Error(QStringLiteral("usage: recwb-cli endpoints %1 NAME (or --name NAME)").arg(what));
        return name;
    }

    // Applies the options given on the command line to e: every option for add, only the given
    // ones for edit. Validation errors name the option.
    void applyEndpointOptions(const QCommandLineParser& p, rerank::EndpointProfile& e, bool adding)
    {
        QString kindName = rerank::providerKindName(e.kind);
        if (adding || p.isSet(QStringLiteral("kind"))) {
            kindName = requireOption(p, QStringLiteral("kind"));
            const auto kind = rerank::providerKindFromName(kindName);
            if (!kind)
                throw Error(
                    QStringLiteral("--kind '%1': expected openai, anthropic, gemini, ollama or offline").arg(kindName));
            e.kind = *kind;
        }
        for (const auto& [option, field] :
            { std::pair { QStringLiteral("base-url"), &e.baseUrl }, std::pair { QStringLiteral("model"), &e.model } })
            if (adding || p.isSet(option))
                *field = p.value(option);
        if (!p.value(QStringLiteral("key-env")).isEmpty() && !p.value(QStringLiteral("keychain")).isEmpty())
            throw Error(QStringLiteral("give --key-env or --keychain, not both"));
        if (adding || p.isSet(QStringLiteral("key-env")) || p.isSet(QStringLiteral("keychain"))) {
            e.keyEnv = p.value(QStringLiteral("key-env"));
            e.keychainEntry = p.value(QStringLiteral("keychain"));
        }
        e.timeoutMs = intOption(p, QStringLiteral("timeout-ms"), e.timeoutMs);
        e.maxConcurrent = intOption(p, QStringLiteral("max-concurrent"), e.maxConcurrent);
        e.maxOutputTokens = intOption(p, QStringLiteral("max-output-tokens"), e.maxOutputTokens);
        if (const auto t = doubleOption(p, QStringLiteral("temperature")))
            e.temperature = *t;
        bool pricesGiven = false;
        for (const auto& [option, field] : { std::pair { QStringLiteral("price-input"), &e.prices.input },
                 std::pair { QStringLiteral("price-cached"), &e.prices.cachedInput },
                 std::pair { QStringLiteral("price-output"), &e.prices.output } })
            if (adding || p.isSet(option)) {
                *field = doubleOption(p, option);
                pricesGiven = pricesGiven || p.isSet(option);
            }
        if (pricesGiven)
            e.prices.asOf = QDateTime::currentDateTimeUtc().date().toString(Qt::ISODate);
        if (p.isSet(QStringLiteral("allow-insecure-http")) && p.isSet(QStringLiteral("no-insecure-http")))
            throw Error(QStringLiteral("give --allow-insecure-http or --no-insecure-http, not both"));
        if (adding || p.isSet(QStringLiteral("allow-insecure-http")) || p.isSet(QStringLiteral("no-insecure-http")))
            e.allowInsecureHttp = p.isSet(QStringLiteral("allow-insecure-http"));
        e.maxRetries = intOption(p, QStringLiteral("max-retries"), e.maxRetries);
        if (e.maxRetries < 0)
            throw Error(QStringLiteral("--max-retries must be 0 or more"));
        if (p.isSet(QStringLiteral("structured-output"))) {
            const QString modeName = p.value(QStringLiteral("structured-output"));
            const auto mode = rerank::outputModeFromName(modeName);
            if (!mode)
                throw Error(QStringLiteral("--structured-output '%1': expected json_schema, json_object or text")
                                .arg(modeName));
            if (*mode != rerank::OutputMode::JsonSchema && !rerank::outputModeApplies(e.kind))
                throw Error(
                    QStringLiteral("--structured-output %1 applies to openai and ollama endpoints only; %2 always "
                                   "uses its own schema mechanism")
                        .arg(modeName, kindName));
            e.structuredOutput = *mode;
        }
        if (e.kind != rerank::ProviderKind::Offline && e.baseUrl.isEmpty())
            throw Error(QStringLiteral("missing required option --base-url for a %1 endpoint").arg(kindName));
        if (e.kind != rerank::ProviderKind::Offline && e.model.isEmpty())
            throw Error(QStringLiteral("missing required option --model for a %1 endpoint").arg(kindName));
        rerank::EndpointProfile::fromJson(
            e.toJson()); // the store's own checks (URL, ranges), before anything is written
    }

    // One line from standard input without echo when it is a terminal; never logged.
    QByteArray readKeyLine(const QString& endpoint)
    {
        const bool tty = isatty(fileno(stdin));
        termios saved {};
        if (tty) {
            err(QStringLiteral("API key for endpoint %1 (one line, not echoed): ").arg(endpoint));
            if (tcgetattr(fileno(stdin), &saved) == 0) {
                termios quiet = saved;
                quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
                tcsetattr(fileno(stdin), TCSANOW, &quiet);
            }
        }
        std::string line;
        std::getline(std::cin, line);
        if (tty) {
            tcsetattr(fileno(stdin), TCSANOW, &saved);
            err(QString());
        }
        QByteArray key = QByteArray::fromStdString(line).trimmed();
        std::fill(line.begin(), line.end(), '\0');
        return key;
    }

    int testEndpoint(const QCommandLineParser& p, const rerank::EndpointProfile& e)
    {
        rerank::LlmClient client;
        rerank::EndpointTestResult result;
        QEventLoop loop;
        auto* test = rerank::EndpointTest::start(client, e);
        QObject::connect(test, &rerank::EndpointTest::finished, &loop, [&](const rerank::EndpointTestResult& r) {
            result = r;
            loop.quit();
        });
        loop.exec();
        if (p.isSet(kJson))
            out(compact(result.toJson()));
        else if (result.ok())
            out(QStringLiteral("endpoint '%1': %2").arg(e.name, result.summary()));
        if (!result.ok())
            throw Error(QStringLiteral("endpoint '%1': %2").arg(e.name, result.summary()));
        return 0;
    }

    int setEndpointKey(Workspace& ws, const QString& name)
    {
        rerank::EndpointProfile e = rerank::store::getEndpoint(ws, name);
        if (e.kind == rerank::ProviderKind::Offline)
            throw Error(QStringLiteral("endpoint '%1' is the offline reranker: it needs no key").arg(name));
        const QByteArray key = readKeyLine(name);
        if (key.isEmpty())
            throw Error(
                QStringLiteral("endpoint '%1': no key on standard input (an empty key is refused); nothing was stored")
                    .arg(name));
        rerank::KeyStore keys;
        const QString entry = rerank::KeyStore::entryForEndpoint(name);
        rerank::KeyStoreResult result;
        QEventLoop loop;
        QObject::connect(
            keys.write(entry, key), &rerank::KeyJob::finished, &loop, [&](const rerank::KeyStoreResult& r) {
                result = r;
                loop.quit();
            });
        loop.exec();
        if (!result.ok()) {
            QString message = QStringLiteral("endpoint '%1': the key was not stored: %2").arg(name, result.error);
            if (result.status == rerank::KeyStoreResult::Status::Unavailable)
                message += QStringLiteral(". Keep the key in an environment variable instead: export VAR=... and run "
                                          "recwb-cli endpoints edit %1 --key-env VAR -w %2")
                               .arg(name, ws.path());
            throw Error(message);
        }
        e.keychainEntry = entry;
        e.keyEnv.clear();
        rerank::store::upsertEndpoint(ws, e);
        out(QStringLiteral("Stored the key for endpoint %1 in the OS keychain (service %2, entry %3)")
                .arg(name, keys.service(), entry));
        return 0;
    }

    const Registrar endpointsCommand { Command { QStringLiteral("endpoints"),
        QStringLiteral("List, add, edit, test LLM endpoint profiles and store their keys (keys never go in the "
                       "workspace: only an env variable name or a keychain entry name)."),
        [](QCommandLineParser& p) {
            addWorkspaceOption(p);
            p.addPositionalArgument(QStringLiteral("action"),
                QStringLiteral("list | add | edit NAME | duplicate NAME NEWNAME | remove NAME | set-default NAME | "
                               "test NAME | set-key NAME (reads the key from standard input)"));
            p.addOption({ QStringLiteral("name"), QStringLiteral("Endpoint name."), QStringLiteral("name") });
            p.addOption({ QStringLiteral("kind"), QStringLiteral("openai | anthropic | gemini | ollama | offline."),
                QStringLiteral("kind") });
            p.addOption({ QStringLiteral("base-url"), QStringLiteral("Base URL, e.g. https://api.openai.com/v1."),
                QStringLiteral("url") });
            p.addOption({ QStringLiteral("model"), QStringLiteral("Model id."), QStringLiteral("model") });
            p.addOption({ QStringLiteral("key-env"),
                QStringLiteral("Environment variable holding the API key (the key itself is never stored)."),
                QStringLiteral("var") });
            p.addOption({ QStringLiteral("keychain"),
                QStringLiteral(
                    "OS keychain entry holding the API key (QtKeychain, service \"recwb\"; set-key writes one)."),
                QStringLiteral("entry") });
            p.addOption({ QStringLiteral("timeout-ms"), QStringLiteral("Deadline per request (default 60000)."),
                QStringLiteral("ms") });
            p.addOption({ QStringLiteral("max-concurrent"), QStringLiteral("Calls in flight at once (default 4)."),
                QStringLiteral("n") });
            p.addOption({ QStringLiteral("temperature"), QStringLiteral("Sampling temperature (default 0)."),
                QStringLiteral("t") });
            p.addOption({ QStringLiteral("max-output-tokens"), QStringLiteral("Answer token cap (default 2048)."),
                QStringLiteral("n") });
            p.addOption(
                { QStringLiteral("price-input"), QStringLiteral("USD per 1M input tokens."), QStringLiteral("usd") });
            p.addOption({ QStringLiteral("price-cached"), QStringLiteral("USD per 1M cached input tokens."),
                QStringLiteral("usd") });
            p.addOption(
                { QStringLiteral("price-output"), QStringLiteral("USD per 1M output tokens."), QStringLiteral("usd") });
            p.addOption({ QStringLiteral("allow-insecure-http"),
                QStringLiteral("Allow http:// to a non-loopback host (keys travel in clear text).") });
            p.addOption({ QStringLiteral("no-insecure-http"),
                QStringLiteral("edit: refuse http:// to non-loopback hosts again (the default).") });
            p.addOption({ QStringLiteral("structured-output"),
                QStringLiteral(
                    "How an openai or ollama endpoint is asked for JSON: json_schema (default; strict schema), "
                    "json_object (any JSON) or text (the schema only in the prompt). Anthropic and Gemini "
                    "always use their own schema mechanism."),
                QStringLiteral("mode") });
            p.addOption({ QStringLiteral("max-retries"),
                QStringLiteral("Retries after a retryable failure (429, 5xx, network; default 2)."),
                QStringLiteral("n") });
            p.addOption({ kJson, QStringLiteral("Print JSON.") });
        },
        [](QCommandLineParser& p) {
            const QString what = action(p,
                { QStringLiteral("list"), QStringLiteral("add"), QStringLiteral("edit"), QStringLiteral("duplicate"),
                    QStringLiteral("remove"), QStringLiteral("set-default"), QStringLiteral("test"),
                    QStringLiteral("set-key") },
                QStringLiteral("endpoints"));
            const auto ws = Workspace::open(requireOption(p, kWorkspace));
            if (what == u"list") {
                const auto list = rerank::store::listEndpoints(*ws);
                const QString def = rerank::store::defaultEndpoint(*ws);
                if (p.isSet(kJson)) {
                    QJsonArray a;
                    for (const auto& e : list) {
                        QJsonObject o = e.toJson();
                        o.insert(QStringLiteral("default"), e.name == def);
                        a.append(o);
                    }
                    out(compact(a));
                    return 0;
                }
                for (const auto& e : list)
                    out(QStringLiteral("%1 %2  %3  %4  %5  key %6  prices in/cached/out %7/%8/%9 per 1M")
                            .arg(e.name == def ? QStringLiteral("*") : QStringLiteral(" "))
                            .arg(e.name.leftJustified(16), rerank::providerKindName(e.kind).leftJustified(9),
                                e.model.leftJustified(20), (e.baseUrl.isEmpty() ? QStringLiteral("-") : e.baseUrl),
                                !e.keyEnv.isEmpty()              ? QStringLiteral("$") + e.keyEnv
                                    : !e.keychainEntry.isEmpty() ? QStringLiteral("keychain:") + e.keychainEntry
                                                                 : QStringLiteral("-"),
                                priceText(e.prices.input), priceText(e.prices.cachedInput), priceText(e.prices.output))
                        + QStringLiteral("  output %1  retries %2")
                              .arg(e.kind == rerank::ProviderKind::Offline
                                      ? QStringLiteral("-")
                                      : rerank::outputModeName(rerank::outputModeApplies(e.kind)
                                              ? e.structuredOutput
                                              : rerank::OutputMode::JsonSchema))
                              .arg(e.kind == rerank::ProviderKind::Offline ? QStringLiteral("-")
                                                                           : QString::number(e.maxRetries)));
                return 0;
            }
            const QString name = endpointName(p, what);
            if (what == u"set-default") {
                rerank::store::setDefaultEndpoint(*ws, name);
                out(QStringLiteral("Default endpoint: %1").arg(name));
                return 0;
            }
            if (what == u"remove") {
                if (!rerank::store::removeEndpoint(*ws, name))
                    throw Error(QStringLiteral("%1: no endpoint \"%2\"").arg(ws->path(), name));
                out(QStringLiteral("Removed endpoint %1").arg(name));
                return 0;
            }
            if (what == u"test")
                return testEndpoint(p, rerank::store::getEndpoint(*ws, name));
            if (what == u"set-key")
                return setEndpointKey(*ws, name);
            rerank::EndpointProfile e;
            if (what == u"duplicate") {
                const QStringList pos = p.positionalArguments();
                const QString newName = pos.value(p.isSet(QStringLiteral("name")) ? 1 : 2).trimmed();
                if (newName.isEmpty())
                    throw Error(QStringLiteral("usage: recwb-cli endpoints duplicate NAME NEWNAME"));
                if (rerank::store::findEndpoint(*ws, newName))
                    throw Error(QStringLiteral("%1: an endpoint \"%2\" exists already").arg(ws->path(), newName));
                e = rerank::store::getEndpoint(*ws, name);
                e.name = newName;
                applyEndpointOptions(p, e, false); // a duplicate may change a few options at once
            } else if (what == u"edit") {
                e = rerank::store::getEndpoint(*ws, name);
                applyEndpointOptions(p, e, false);
            } else { // add: never over an existing profile
                if (rerank::store::findEndpoint(*ws, name))
                    throw Error(QStringLiteral("%1: an endpoint \"%2\" exists already; change it with recwb-cli "
                                               "endpoints edit %2 (or remove it first)")
                                    .arg(ws->path(), name));
                e.name = name;
                applyEndpointOptions(p, e, true);
            }
            rerank::store::upsertEndpoint(*ws, e);
            if (p.isSet(kJson))
                out(compact(e.toJson()));
            else
                out(QStringLiteral("Saved endpoint %1 (%2, %3)")
                        .arg(e.name, rerank::providerKindName(e.kind), e.model));
            return 0;
        } } };

    // ---- rerank ----

const QString kUsersFile = QStringLiteral("users");
const QString kCohort = QStringLiteral("cohort");

// The users of a batch: --user, --users FILE (one external id per line, # comments) or
// --cohort cold|warm|all [--limit N]. Unknown ids fail naming file and line, before any work.
std::vector<int32_t> selectUsers(const QCommandLineParser& p, const Dataset& ds, int coldThreshold)
{
    const int chosen = int(p.isSet(QStringLiteral("user"))) + int(p.isSet(kUsersFile)) + int(p.isSet(kCohort));
    if (chosen != 1)
        throw UsageError(QStringLiteral("give exactly one of --user ID, --users FILE or --cohort cold|warm|all"));
    std::vector<int32_t> users;
    if (p.isSet(QStringLiteral("user"))) {
        if (p.value(QStringLiteral("user")).split(u',', Qt::SkipEmptyParts).isEmpty())
            throw UsageError(QStringLiteral("--user: no user id given"));
        for (const QString& id : p.value(QStringLiteral("user")).split(u',', Qt::SkipEmptyParts)) {
            const int32_t u = ds.userIndex(id.trimmed());
            if (u < 0)
                throw Error(QStringLiteral("no user '%1' in the workspace").arg(id.trimmed()));
            users.push_back(u);
        }
    } else if (p.isSet(kUsersFile)) {
        const QString fileName = p.value(kUsersFile);
        QFile f(fileName);
        if (!f.open(QIODevice::ReadOnly | QIODevice::Text))
            throw Error(QStringLiteral("%1: %2").arg(fileName, f.errorString()));
        int line = 0;
        while (!f.atEnd()) {
            ++line;
            const QByteArray raw = f.readLine();
            QString id = QString::fromUtf8(raw).trimmed();
            if (id.isEmpty() || id.startsWith(u'#'))
                continue;
            id = id.section(u',', 0, 0).section(u'\t', 0, 0).trimmed(); // first column of a CSV/TSV line
            const int32_t u = ds.userIndex(id);
            if (u < 0)
                throw Error(QStringLiteral("%1:%2: no user '%3' in the workspace").arg(fileName).arg(line).arg(id));
            users.push_back(u);
        }
        if (users.empty())
            throw Error(QStringLiteral("%1: no user ids in the file").arg(fileName));
    } else {
        const QString cohort = p.value(kCohort);
        if (cohort != u"cold" && cohort != u"warm" && cohort != u"all")
            throw UsageError(QStringLiteral("--cohort '%1': expected cold, warm or all").arg(cohort));
        const int limit = intOption(p, QStringLiteral("limit"), 0, 1, std::numeric_limits<int>::max());
        for (int32_t u = 0; u < ds.numUsers() && (limit <= 0 || static_cast<int>(users.size()) < limit); ++u) {
            const bool cold = ds.isCold(u, coldThreshold);
            if (cohort == u"all" || (cohort == u"cold") == cold)
                users.push_back(u);
        }
        if (users.empty())
            throw Error(QStringLiteral("no %1 users in the workspace").arg(cohort));
    }
    // --shard I/N after --limit: the N shards of one selection partition exactly its users.
    if (p.isSet(QStringLiteral("shard"))) {
        const pipeline::Shard shard = pipeline::parseShard(p.value(QStringLiteral("shard")));
        const size_t selected = users.size();
        users = pipeline::usersOfShard(users, ds, shard);
        if (users.empty())
            throw Error(QStringLiteral("shard %1/%2 holds none of the %3 selected users")
                            .arg(shard.index)
                            .arg(shard.count)
                            .arg(selected));
    }
    return users;
}

// Ranges of the rerank options: beyond them a value is a typo, not a wish.
constexpr int kMaxCandidates = 1000;
constexpr int kMaxK = 100;
constexpr int kMaxConcurrency = 256;
constexpr int kMaxProbeOrders = 100;

// --resume RUN: the stored run to continue, checked (nullopt without --resume).
std::optional<rerank::store::RunInfo> runToResume(const QCommandLineParser& p, const Workspace& ws)
{
    if (!p.isSet(QStringLiteral("resume")))
        return std::nullopt;
    for (const char* option : { "user", "users", "cohort", "shard", "probe", "prompt", "cold-prompt", "endpoint", "cascade",
             "candidates", "k", "route", "no-store" })
        if (p.isSet(QLatin1StringView(option)))
            throw UsageError(QStringLiteral("--resume continues a run with its own users and settings: it does not "
                                            "take --%1")
                                 .arg(QLatin1StringView(option)));
    bool ok = false;
    const qint64 id = p.value(QStringLiteral("resume")).toLongLong(&ok);
    if (!ok || id <= 0)
        throw UsageError(QStringLiteral("--resume '%1' is not a run id").arg(p.value(QStringLiteral("resume"))));
    const auto run = rerank::store::findRun(ws, id);
    if (!run)
        throw Error(QStringLiteral("%1: no rerank run %2").arg(ws.path()).arg(id));
    const QString status = rerank::store::runStatus(*run);
    if (status == u"finished" || status == u"running")
        throw Error(QStringLiteral("run %1 is %2: only an interrupted, canceled or failed run can be resumed")
                        .arg(id)
                        .arg(status));
    if (rerank::batchstore::findBatchJob(ws, id))
        throw Error(QStringLiteral("run %1 was sent as a provider batch: collect it with recwb-cli runs collect %1").arg(id));
    if (run->params.value(QStringLiteral("mode")).toString() == u"probe")
        throw Error(QStringLiteral("run %1 is a position-bias probe: probes cannot be resumed").arg(id));
    if (run->params.value(QStringLiteral("template")).toString().endsWith(QStringLiteral("@draft"))
        || !run->params.value(QStringLiteral("user_ids")).isArray())
        throw Error(QStringLiteral("run %1 cannot be resumed (a draft template, a what-if user, or a run stored "
                                   "before runs recorded their users)")
                        .arg(id));
    return run;
}

// The users of a run to resume that have no stored result yet, in the run's order.
std::vector<int32_t> usersLeft(const Workspace& ws, const Dataset& ds, const rerank::store::RunInfo& run)
{
    QSet<QString> done;
    for (const auto& r : rerank::store::runResults(ws, run.id))
        done.insert(r.first);
    std::vector<int32_t> users;
    for (const QJsonValue& v : run.params.value(QStringLiteral("user_ids")).toArray()) {
        const QString id = v.toString();
        if (done.contains(id))
            continue;
        const int32_t u = ds.userIndex(id);
        if (u < 0)
            throw Error(QStringLiteral("run %1: user '%2' is no longer in the workspace").arg(run.id).arg(id));
        users.push_back(u);
    }
    if (users.empty())
        throw Error(QStringLiteral("run %1 holds a result for every one of its users: nothing to resume").arg(run.id));
    return users;
}

// The settings of the run being resumed (what the command line could still change: the
// concurrency, the cache, the spending cap).
void applyRunParams(bool concurrencyGiven, const rerank::store::RunInfo& run, pipeline::BatchOptions& options)
{
    const QJsonObject& params = run.params;
    options.prompt = params.value(QStringLiteral("template")).toString();
    options.coldPrompt = params.value(QStringLiteral("cold_template")).toString();
    options.cascade.clear();
    for (const QJsonValue& t : params.value(QStringLiteral("cascade")).toArray())
        options.cascade.append(t.toObject().value(QStringLiteral("endpoint")).toString());
    if (options.cascade.isEmpty())
        options.cascade = QStringList { run.endpoint };
    options.candidates = params.value(QStringLiteral("candidates")).toInt(options.candidates);
    options.k = params.value(QStringLiteral("k")).toInt(options.k);
    options.bypassCache = options.bypassCache || params.value(QStringLiteral("bypass_cache")).toBool();
    if (!concurrencyGiven)
        options.concurrency = params.value(QStringLiteral("concurrency")).toInt(0);
    const QJsonObject routing = params.value(QStringLiteral("routing")).toObject();
    if (routing.value(QStringLiteral("mode")).toString() == u"selective") {
        options.routing.everyone = false;
        options.routing.cold = routing.value(QStringLiteral("cold")).toBool(true);
        options.routing.lowConfidence = routing.value(QStringLiteral("low_confidence")).toBool(true);
        options.routing.highValue = routing.value(QStringLiteral("high_value")).toBool(true);
        options.routing.confidenceThreshold
            = routing.value(QStringLiteral("confidence_threshold")).toDouble(options.routing.confidenceThreshold);
    } else {
        options.routing.everyone = true;
    }
    options.extraParams = {};
    options.storeRun = true;
    options.resumeRunId = run.id;
}

// ---- shards that write a file of their own (rerank --shard I/N --out FILE) ----

const QString kShardMeta = QStringLiteral("shard.of"); // "I/N" in a shard's own file

// Creates FILE for a new shard (an empty workspace that will hold only the shard's run and
// the response-cache entries it adds), or checks that an existing FILE is this shard's
// unfinished file and returns its run to resume. Anything else is refused before any work.
// The input workspace is never written.
std::optional<rerank::store::RunInfo> openShardOutput(const QString& outFile, const Workspace& ws, const Dataset& ds,
    const std::vector<int32_t>& users, const pipeline::BatchOptions& options)
{
    const QString shardText = options.extraParams.value(QStringLiteral("shard")).toString();
    const QString file = Workspace::resolvePath(outFile); // a folder, a FIFO, a dangling link: refused
    if (QFileInfo(file).absoluteFilePath() == QFileInfo(ws.file()).absoluteFilePath())
        throw UsageError(QStringLiteral("--out %1 is the workspace itself: give each shard a file of its own").arg(outFile));
    if (!QFileInfo::exists(file)) {
        const auto created = Workspace::open(file, Workspace::Mode::CreateOrOpen);
        created->setMeta(kShardMeta, shardText);
        created->setMeta(QStringLiteral("shard.workspace"), ws.path());
        return std::nullopt;
    }
    const auto shardFile = Workspace::open(file);
    const QString holds = shardFile->meta(kShardMeta);
    if (holds.isEmpty())
        throw Error(QStringLiteral("%1 exists and is not a shard's file (rerank --shard I/N --out): not writing into it; "
                                   "give a new file")
                        .arg(outFile));
    const QList<rerank::store::RunInfo> runs = rerank::store::listRuns(*shardFile);
    if (holds != shardText)
        throw Error(QStringLiteral("%1 holds shard %2, not %3: give each shard a file of its own").arg(outFile, holds, shardText));
    if (runs.isEmpty())
        return std::nullopt; // created, then stopped before its run began: start it
    const rerank::store::RunInfo& run = runs.front();
    const QString status = rerank::store::runStatus(run);
    if (status == u"finished")
        throw Error(QStringLiteral("%1 holds the finished shard %2 already: merge it (recwb-cli runs merge -w W FILE...) "
                                   "or give a new file")
                        .arg(outFile, shardText));
    if (status == u"running") {
        // Alive on this host: refused. Another host's process cannot be checked from here; a
        // shard's file has one writer, and a retried pod or requeued task runs on another
        // host after its predecessor ended, so the file is taken over, saying so.
        const QString host = run.params.value(QStringLiteral("host")).toString();
        const qint64 pid = run.params.value(QStringLiteral("pid")).toInteger();
        if (host == QSysInfo::machineHostName())
            throw Error(QStringLiteral("%1: shard %2 is still running (process %3)").arg(outFile, shardText).arg(pid));
        err(QStringLiteral("%1: shard %2 was left running by process %3 on host %4; taking it over (never run one "
                           "shard twice at once)")
                .arg(outFile, shardText)
                .arg(pid)
                .arg(host));
    }
    // The same shard of the same selection on the same data, or a clear refusal.
    QJsonArray ids;
    for (const int32_t u : users)
        ids.append(ds.users[static_cast<size_t>(u)].externalId);
    const auto differs = [&](const QString& key, const QJsonValue& now) {
        if (run.params.value(key) != now)
            throw Error(QStringLiteral("%1 holds an unfinished shard %2 made with another %3 (%4, now %5): not resuming "
                                       "it; give a new file")
                            .arg(outFile, shardText, key,
                                compact(QJsonObject { { key, run.params.value(key) } }), compact(QJsonObject { { key, now } })));
    };
    differs(QStringLiteral("source"), options.extraParams.value(QStringLiteral("source")));
    differs(QStringLiteral("cf_model"), options.extraParams.value(QStringLiteral("cf_model")));
    differs(QStringLiteral("user_ids"), ids);
    differs(QStringLiteral("candidates"), options.candidates);
    differs(QStringLiteral("k"), options.k);
    err(QStringLiteral("%1: resuming shard %2 (%3 of %4 users stored)")
            .arg(outFile, shardText)
            .arg(rerank::store::runResults(*shardFile, run.id).size())
            .arg(ids.size()));
    return run;
}

// The users of a shard's unfinished run that have no result in its file yet. None left
// (stopped between its last result and its summary): the run is marked finished here.
std::vector<int32_t> shardUsersLeft(const QString& outFile, const Dataset& ds, const rerank::store::RunInfo& run)
{
    const auto shardFile = Workspace::open(outFile);
    const auto stored = rerank::store::runResults(*shardFile, run.id);
    if (stored.size() >= run.params.value(QStringLiteral("user_ids")).toArray().size()) {
        writeTransaction(*shardFile, [&] {
            QJsonObject summary = rerank::store::summarizeStoredResults(stored);
            summary.insert(QStringLiteral("canceled"), false);
            rerank::store::setRunSummary(*shardFile, run.id, summary);
            rerank::store::setRunStatus(*shardFile, run.id, QStringLiteral("finished"));
        });
        out(QStringLiteral("%1: every user of shard run %2 was stored already; marked finished").arg(outFile).arg(run.id));
        return {};
    }
    return usersLeft(*shardFile, ds, run);
}

// Refuses a run whose projected calls or cost exceed the confirmation ceiling, before
// anything is sent (the user confirms with --yes).
void checkCeiling(const QCommandLineParser& p, const Workspace& ws, const pipeline::BatchOptions& options, qint64 users)
{
    pipeline::RunCeiling ceiling = pipeline::RunCeiling::fromEnvironment();
    if (p.isSet(QStringLiteral("ceiling-calls")))
        ceiling.calls = intOption(p, QStringLiteral("ceiling-calls"), 0, 0, std::numeric_limits<int>::max());
    if (const auto usd = doubleOption(p, QStringLiteral("ceiling-usd"))) {
        if (!std::isfinite(*usd) || *usd < 0)
            throw UsageError(QStringLiteral("--ceiling-usd must be an amount in USD >= 0"));
        ceiling.usd = *usd;
    }
    QList<rerank::EndpointProfile> tiers;
    for (const QString& name : options.cascade) {
        const QString resolved = name.isEmpty() ? rerank::store::defaultEndpoint(ws) : name;
        if (const auto e = rerank::store::findEndpoint(ws, resolved))
            tiers.append(*e); // an unknown name fails in the batch, naming it
    }
    const pipeline::RunProjection projection = pipeline::projectRun(tiers, rerank::PriceTable::loadWithOverride(),
        users * std::max(1, options.probeOrders), options.candidates, options.maxCostUsd);
    const QString over = projection.exceeds(ceiling);
    if (!over.isEmpty())
        throw UsageError(QStringLiteral("this run may make %1; nothing was sent. Add --yes to run it, or lower "
                                        "--limit / --probe, or set --max-cost")
                             .arg(over));
}

pipeline::RoutingPolicy routingFrom(const QCommandLineParser& p, const Workspace& ws)
{
    pipeline::RoutingPolicy r;
    const QString mode = p.value(QStringLiteral("route"));
    if (mode == u"all")
        return r;
    if (mode != u"selective")
        throw UsageError(QStringLiteral("--route '%1': expected all or selective").arg(mode));
    r.everyone = false;
    if (p.isSet(QStringLiteral("route-rules"))) {
        const QStringList rules = p.value(QStringLiteral("route-rules")).split(u',', Qt::SkipEmptyParts);
        for (const QString& rule : rules)
            if (rule != u"cold" && rule != u"low_confidence" && rule != u"high_value")
                throw UsageError(QStringLiteral("--route-rules: unknown rule '%1' (cold, low_confidence, high_value)").arg(rule));
        r.cold = rules.contains(QStringLiteral("cold"));
        r.lowConfidence = rules.contains(QStringLiteral("low_confidence"));
        r.highValue = rules.contains(QStringLiteral("high_value"));
    }
    if (const auto t = doubleOption(p, QStringLiteral("confidence-threshold"))) {
        if (*t < 0 || *t > 1)
            throw UsageError(QStringLiteral("--confidence-threshold must be within [0, 1]"));
        r.confidenceThreshold = *t;
    }
    const QStringList marked = rerank::store::highValueUsers(ws);
    r.highValueUsers = QSet<QString>(marked.begin(), marked.end());
    return r;
}

QString usd(const QJsonValue& v)
{
    return v.isDouble() ? QStringLiteral("$%1").arg(v.toDouble(), 0, 'f', 6) : QStringLiteral("unknown");
}

QString userText(const pipeline::RerankOutcome& o, const QString& cfName, bool bypassCache)
{
    QString text = QStringLiteral("User %1: %2 via %3 (%4, %5), %6 candidates from %7%8; route %9 (CF confidence %10)\n")
                       .arg(o.userId, o.templateRef, o.endpoint, rerank::providerKindName(o.kind), o.model)
                       .arg(o.candidateCount)
                       .arg(cfName, o.coldStart ? QStringLiteral(" (cold-start blend)") : QString(), o.route)
                       .arg(o.cfConfidence, 0, 'f', 2);
    for (qsizetype i = 0; i < o.result.items.size(); ++i) {
        const auto& r = o.result.items[i];
        text += QStringLiteral("%1  %2  %3  %4  cf#%5  %6\n")
                    .arg(r.rank, 3)
                    .arg(r.externalId.leftJustified(10), o.titles.value(i).left(40).leftJustified(40),
                        r.score ? QString::number(*r.score, 'f', 3).rightJustified(7) : QStringLiteral("      -"))
                    .arg(r.cfRank, -3)
                    .arg(r.explanation.simplified());
    }
    QStringList defects;
    for (const auto& d : o.result.defects)
        defects.append(d.kind);
    QStringList tiers;
    for (const auto& t : o.tiers)
        tiers.append(QStringLiteral("%1 %2%3").arg(t.endpoint, t.usable ? QStringLiteral("ok") : QStringLiteral("unusable"),
            t.cacheHit ? QStringLiteral(" (cache)") : QString()));
    const QString cache = !o.llmCalled() ? QStringLiteral("n/a")
        : o.cacheHit                     ? QStringLiteral("hit")
                                         : (bypassCache ? QStringLiteral("bypassed") : QStringLiteral("miss"));
    text += QStringLiteral("answered by: %1%2; fallback: %3; defects: %4; tokens: %5 in (%6 cached) / %7 out; cost: %8; "
                           "cache: %9; ")
                .arg(o.answeredBy(), tiers.size() > 1 ? QStringLiteral(" (") + tiers.join(QStringLiteral(" -> ")) + u')' : QString(),
                    o.fallback() ? QStringLiteral("yes (") + o.result.fallbackReason + u')' : QStringLiteral("no"),
                    defects.isEmpty() ? QStringLiteral("none") : defects.join(u','))
                .arg(o.usage.inputTokens)
                .arg(o.usage.cachedInputTokens)
                .arg(o.usage.outputTokens)
                .arg(o.cost ? QStringLiteral("$%1").arg(*o.cost, 0, 'f', 6) : QStringLiteral("unknown"), cache);
    text += QStringLiteral("ms: candidates %1, enrichment %2, render %3, llm %4, parse %5")
                .arg(o.stageMs.candidates, 0, 'f', 1)
                .arg(o.stageMs.enrichment, 0, 'f', 1)
                .arg(o.stageMs.render, 0, 'f', 1)
                .arg(o.stageMs.llm, 0, 'f', 1)
                .arg(o.stageMs.parse, 0, 'f', 1);
    return text;
}

// The batch summary for people (the JSON has every figure).
QString summaryText(const QJsonObject& s)
{
    QString t;
    const QJsonObject routing = s.value(QStringLiteral("routing")).toObject();
    t += QStringLiteral("Users: %1 (%2 cold) in %3 s (%4 users/s)%5\n")
             .arg(s.value(QStringLiteral("users")).toInt())
             .arg(s.value(QStringLiteral("cold_users")).toInt())
             .arg(s.value(QStringLiteral("wall_ms")).toDouble() / 1000, 0, 'f', 2)
             .arg(s.value(QStringLiteral("users_per_second")).toDouble(), 0, 'f', 1)
             .arg(s.value(QStringLiteral("canceled")).toBool() ? QStringLiteral(" - CANCELED") : QString());
    QStringList reasons;
    const QJsonObject byReason = routing.value(QStringLiteral("by_reason")).toObject();
    for (auto it = byReason.begin(); it != byReason.end(); ++it)
        reasons.append(QStringLiteral("%1 %2").arg(it.key()).arg(it.value().toObject().value(QStringLiteral("users")).toInt()));
    t += QStringLiteral("Routing: %1 reranked, %2 kept the CF order (%3)\n")
             .arg(routing.value(QStringLiteral("reranked")).toInt())
             .arg(routing.value(QStringLiteral("cf_kept")).toInt())
             .arg(reasons.join(QStringLiteral(", ")));
    QStringList answered;
    const QJsonObject by = s.value(QStringLiteral("answered_by")).toObject();
    for (auto it = by.begin(); it != by.end(); ++it)
        answered.append(QStringLiteral("%1 %2 (%3 %)")
                            .arg(it.key())
                            .arg(it.value().toObject().value(QStringLiteral("users")).toInt())
                            .arg(100 * it.value().toObject().value(QStringLiteral("share")).toDouble(), 0, 'f', 1));
    t += QStringLiteral("Answered by: %1; escalations %2; fallbacks %3\n")
             .arg(answered.join(QStringLiteral(", ")))
             .arg(s.value(QStringLiteral("escalations")).toInt())
             .arg(s.value(QStringLiteral("fallbacks")).toInt());
    for (const QJsonValue& v : s.value(QStringLiteral("tiers")).toArray()) {
        const QJsonObject tier = v.toObject();
        const QJsonObject tok = tier.value(QStringLiteral("tokens")).toObject();
        const QJsonObject ms = tier.value(QStringLiteral("call_ms")).toObject();
        t += QStringLiteral("  %1 (%2): %3 calls, %4 cache hits, %5 usable, %6 failed/invalid; tokens %7 in (%8 cached) / "
                            "%9 out; cost %10; call ms p50 %11 p95 %12 p99 %13\n")
                 .arg(tier.value(QStringLiteral("endpoint")).toString(), tier.value(QStringLiteral("model")).toString())
                 .arg(tier.value(QStringLiteral("calls")).toInt())
                 .arg(tier.value(QStringLiteral("cache_hits")).toInt())
                 .arg(tier.value(QStringLiteral("usable")).toInt())
                 .arg(tier.value(QStringLiteral("failed_or_invalid")).toInt())
                 .arg(tok.value(QStringLiteral("input")).toInteger())
                 .arg(tok.value(QStringLiteral("cached_input")).toInteger())
                 .arg(tok.value(QStringLiteral("output")).toInteger())
                 .arg(usd(tier.value(QStringLiteral("cost_usd"))))
                 .arg(ms.value(QStringLiteral("p50")).toDouble(), 0, 'f', 1)
                 .arg(ms.value(QStringLiteral("p95")).toDouble(), 0, 'f', 1)
                 .arg(ms.value(QStringLiteral("p99")).toDouble(), 0, 'f', 1);
    }
    const QJsonObject pc = s.value(QStringLiteral("prompt_cache")).toObject();
    const QJsonObject rc = s.value(QStringLiteral("response_cache")).toObject();
    const QJsonObject base = s.value(QStringLiteral("baseline")).toObject();
    t += QStringLiteral("Cost: %1 (%2 calls, %3 unpriced); prompt cache: %4 cached input tokens (%5 % of input), saved %6; "
                        "response cache: %7 hits, %8 misses, %9 bypassed\n")
             .arg(usd(s.value(QStringLiteral("cost_usd"))))
             .arg(s.value(QStringLiteral("calls")).toInt())
             .arg(s.value(QStringLiteral("unpriced_calls")).toInt())
             .arg(pc.value(QStringLiteral("cached_input_tokens")).toInteger())
             .arg(100 * pc.value(QStringLiteral("share_of_input")).toDouble(), 0, 'f', 1)
             .arg(usd(pc.value(QStringLiteral("saved_usd"))))
             .arg(rc.value(QStringLiteral("hits")).toInt())
             .arg(rc.value(QStringLiteral("misses")).toInt())
             .arg(rc.value(QStringLiteral("bypassed")).toInt());
    if (s.contains(QStringLiteral("budget"))) {
        const QJsonObject b = s.value(QStringLiteral("budget")).toObject();
        t += QStringLiteral("Budget: %1 of %2 spent%3\n")
                 .arg(usd(b.value(QStringLiteral("spent_usd"))), usd(b.value(QStringLiteral("max_usd"))),
                     b.value(QStringLiteral("exhausted")).toBool()
                         ? QStringLiteral("; cap reached: %1 calls not made, those users keep the CF order")
                               .arg(b.value(QStringLiteral("calls_not_made")).toInt())
                         : QString());
    }
    t += QStringLiteral("Against everyone on %1: baseline %2, saved %3%4\n")
             .arg(base.value(QStringLiteral("endpoint")).toString(), usd(base.value(QStringLiteral("estimated_usd"))),
                 usd(base.value(QStringLiteral("saved_usd"))),
                 base.value(QStringLiteral("saved_share")).isDouble()
                     ? QStringLiteral(" (%1 %)").arg(100 * base.value(QStringLiteral("saved_share")).toDouble(), 0, 'f', 1)
                     : QString());
    t += QStringLiteral("Latency ms (p50 / p95 / p99):");
    const QJsonObject lat = s.value(QStringLiteral("latency_ms")).toObject();
    for (const char* stage : { "candidates", "enrichment", "render", "llm", "parse", "total" }) {
        const QJsonObject q = lat.value(QLatin1String(stage)).toObject();
        t += QStringLiteral(" %1 %2/%3/%4;")
                 .arg(QLatin1String(stage))
                 .arg(q.value(QStringLiteral("p50")).toDouble(), 0, 'f', 1)
                 .arg(q.value(QStringLiteral("p95")).toDouble(), 0, 'f', 1)
                 .arg(q.value(QStringLiteral("p99")).toDouble(), 0, 'f', 1);
    }
    if (s.contains(QStringLiteral("position_bias"))) {
        const QJsonObject pb = s.value(QStringLiteral("position_bias")).toObject();
        t += QStringLiteral("\nPosition bias over %1 users x %2 orders: mean Kendall tau %3, top-K overlap %4, picks "
                            "shown in the first third %5 % (33.3 % without bias)")
                 .arg(pb.value(QStringLiteral("users")).toInt())
                 .arg(pb.value(QStringLiteral("orders_per_user")).toInt())
                 .arg(pb.value(QStringLiteral("mean_kendall_tau")).toDouble(), 0, 'f', 3)
                 .arg(pb.value(QStringLiteral("mean_top_k_overlap")).toDouble(), 0, 'f', 3)
                 .arg(100 * pb.value(QStringLiteral("first_third_share")).toDouble(), 0, 'f', 1);
    }
    return t;
}

// ---- provider batch APIs (docs/RERANK.md "Provider batch APIs") ----

// Runs this thread's event loop until the batch client calls back; returns its error.
QString awaitBatchCall(const std::function<void(rerank::BatchApiClient::Done)>& start)
{
    QEventLoop loop;
    QString error;
    start([&](const QString& e) {
        error = e;
        loop.quit();
    });
    loop.exec();
    return error;
}

QJsonObject batchJobJson(const rerank::BatchJobInfo& job)
{
    return QJsonObject { { QStringLiteral("provider"), rerank::providerKindName(job.provider) },
        { QStringLiteral("endpoint"), job.endpoint }, { QStringLiteral("model"), job.model },
        { QStringLiteral("batch_id"), job.batchId }, { QStringLiteral("state"), job.state },
        { QStringLiteral("polls"), job.polls }, { QStringLiteral("info"), job.info } };
}

QString batchJobText(const rerank::BatchJobInfo& job)
{
    return QStringLiteral("Provider batch %1 (%2, endpoint %3): %4 after %5 polls; counts %6")
        .arg(job.batchId.isEmpty() ? QStringLiteral("(none)") : job.batchId, rerank::providerKindName(job.provider),
            job.endpoint, job.state)
        .arg(job.polls)
        .arg(compact(job.info.value(QStringLiteral("request_counts")).toObject()));
}

// rerank --batch-api: the run and its requests are stored first ("submitting"), then
// uploaded; the run is "submitted" once the provider has accepted the batch.
int submitProviderBatch(const QCommandLineParser& p, Workspace& ws, const Dataset& ds, const cf::Recommender& model,
    const pipeline::BatchOptions& options, const std::vector<int32_t>& users)
{
    pipeline::PipelineContext ctx(ws, ds, model);
    const pipeline::BatchSubmission s = pipeline::prepareBatchSubmission(ctx, options, users);
    rerank::BatchJobInfo job;
    job.provider = s.profile.kind;
    job.endpoint = s.profile.name;
    job.model = s.profile.model;
    job.state = s.requests.isEmpty() ? QStringLiteral("empty") : QStringLiteral("uploading");
    QJsonObject params = s.run.params;
    params.insert(QStringLiteral("pid"), static_cast<qint64>(QCoreApplication::applicationPid()));
    rerank::store::RunInfo run = s.run;
    run.params = params;
    job.runId = rerank::store::createRun(ws, run);
    rerank::batchstore::createBatchJob(ws, job, s.requests);
    if (!s.requests.isEmpty()) {
        rerank::BatchApiClient client;
        const QString error = awaitBatchCall([&](auto done) { client.submit(s.profile, s.requests, &job, done); });
        if (!error.isEmpty()) {
            job.state = QStringLiteral("submit_failed");
            job.info.insert(QStringLiteral("error"), error);
            rerank::batchstore::updateBatchJob(ws, job);
            rerank::store::setRunStatus(ws, job.runId, QStringLiteral("failed"));
            throw Error(QStringLiteral("run %1: the provider batch was not submitted: %2").arg(job.runId).arg(error));
        }
        rerank::batchstore::updateBatchJob(ws, job);
    }
    rerank::store::setRunStatus(ws, job.runId, QStringLiteral("submitted"));
    if (p.isSet(kJson)) {
        out(compact(QJsonObject { { QStringLiteral("run_id"), job.runId }, { QStringLiteral("status"), QStringLiteral("submitted") },
            { QStringLiteral("batch"), batchJobJson(job) }, { QStringLiteral("users"), s.users },
            { QStringLiteral("requests"), static_cast<int>(s.requests.size()) }, { QStringLiteral("routed_away"), s.routedAway },
            { QStringLiteral("cached"), s.cached }, { QStringLiteral("no_candidates"), s.noCandidates } }));
    } else {
        out(QStringLiteral("Submitted run %1: %2 of %3 users in provider batch %4 (%5; %6 routed to the CF order, %7 cached, "
                           "%8 without candidates)")
                .arg(job.runId)
                .arg(s.requests.size())
                .arg(s.users)
                .arg(job.batchId.isEmpty() ? QStringLiteral("(none needed)") : job.batchId, job.state)
                .arg(s.routedAway)
                .arg(s.cached)
                .arg(s.noCandidates));
        err(QStringLiteral("Collect the results with recwb-cli runs collect %1 -w %2 [--wait]").arg(job.runId).arg(ws.path()));
    }
    return 0;
}

// runs collect RUN [--wait]: polls the batch (once, or until it ends); once it has ended,
// its lines go through the rerank pipeline as the run's answers (validation, fallback,
// cache, cost at the batch rate) and the run is finished.
int collectProviderBatch(const QCommandLineParser& p, Workspace& ws, qint64 runId)
{
    const auto run = rerank::store::findRun(ws, runId);
    if (!run)
        throw Error(QStringLiteral("%1: no rerank run %2").arg(ws.path()).arg(runId));
    std::optional<rerank::BatchJobInfo> found = rerank::batchstore::findBatchJob(ws, runId);
    if (!found)
        throw Error(QStringLiteral("run %1 was not sent as a provider batch (recwb-cli rerank --batch-api)").arg(runId));
    rerank::BatchJobInfo job = *found;
    if (job.state != u"collected" && rerank::store::runStatus(*run) == u"finished") {
        // A collect that stored every result and stopped before saying so.
        job.info.insert(QStringLiteral("provider_state"), job.state);
        job.state = QStringLiteral("collected");
        rerank::batchstore::updateBatchJob(ws, job);
    }
    if (job.state == u"collected") {
        out(QStringLiteral("Run %1 was collected already: recwb-cli runs show %1 -w %2").arg(runId).arg(ws.path()));
        return 0;
    }
    if (job.state == u"uploading" || job.state == u"submit_failed")
        throw Error(QStringLiteral("run %1: the provider never accepted its batch (%2%3); nothing to collect")
                        .arg(runId)
                        .arg(job.state, job.info.contains(QStringLiteral("error"))
                                ? u": " + job.info.value(QStringLiteral("error")).toString()
                                : QString()));
    rerank::EndpointProfile profile = rerank::store::getEndpoint(ws, job.endpoint);
    if (!job.model.isEmpty())
        profile.model = job.model;
    rerank::BatchApiClient client;
    const bool wait = p.isSet(QStringLiteral("wait"));
    const int pollMs = intOption(p, QStringLiteral("poll-ms"), 10000, 10, 3600 * 1000);
    while (!job.ended()) {
        const QString error = awaitBatchCall([&](auto done) { client.poll(profile, &job, done); });
        rerank::batchstore::updateBatchJob(ws, job);
        if (!error.isEmpty())
            throw Error(QStringLiteral("run %1, batch %2: %3").arg(runId).arg(job.batchId, error));
        if (job.ended() || !wait)
            break;
        err(batchJobText(job));
        QEventLoop pause;
        QTimer::singleShot(pollMs, &pause, &QEventLoop::quit);
        pause.exec();
    }
    if (!job.ended()) {
        if (p.isSet(kJson))
            out(compact(QJsonObject { { QStringLiteral("run_id"), runId }, { QStringLiteral("status"), QStringLiteral("submitted") },
                { QStringLiteral("batch"), batchJobJson(job) } }));
        else
            out(batchJobText(job) + QStringLiteral("; not ended yet: collect again later (or with --wait)"));
        return 0;
    }
    const QList<rerank::BatchRequestLine> requests = rerank::batchstore::batchRequests(ws, runId);
    QHash<QString, rerank::BatchLineResult> lines;
    if (job.state != u"empty") {
        QString error;
        QEventLoop loop;
        client.fetchResults(profile, job, requests, [&](const QHash<QString, rerank::BatchLineResult>& r, const QString& e) {
            lines = r;
            error = e;
            loop.quit();
        });
        loop.exec();
        if (!error.isEmpty())
            throw Error(QStringLiteral("run %1, batch %2: the results could not be fetched: %3").arg(runId).arg(job.batchId, error));
    }
    auto answers = std::make_shared<QHash<QString, pipeline::BatchAnswer>>();
    for (const rerank::BatchRequestLine& r : requests) {
        pipeline::BatchAnswer a;
        a.cacheKey = r.cacheKey;
        if (const auto it = lines.constFind(r.customId); it != lines.cend()) {
            a.response = it->response;
            a.defect = it->defect;
        } else {
            a.response.status = rerank::CallStatus::Timeout;
            a.response.errorMessage = QStringLiteral("batch %1 ended %2 without an answer for this request").arg(job.batchId, job.state);
            a.defect = job.missingLineDefect();
        }
        answers->insert(r.userId, a);
    }

    const Dataset ds = ws.load(TaskControl { progressPrinter(), {} });
    QString note;
    const auto model = cf::snapshotOrTrain(ws, ds, run->params.value(QStringLiteral("cf_model")).toString(), &note);
    pipeline::BatchOptions options;
    applyRunParams(false, *run, options);
    options.model = job.model;
    options.batchAnswers = answers;
    options.priceScale = 0.5; // LLM_APIS.md section 8: batch = 50 % of the live price
    pipeline::RerankService service;
    service.open(ws.path());
    pipeline::RerankRequest request;
    request.dataset = std::shared_ptr<const Dataset>(&ds, [](const Dataset*) {});
    request.cfModel = model;
    request.users = usersLeft(ws, ds, *run);
    request.options = options;
    const pipeline::BatchReport report = awaitRerank(service, std::move(request)).report;
    if (!report.error.isEmpty())
        throw Error(report.error);
    job.info.insert(QStringLiteral("provider_state"), job.state);
    job.state = QStringLiteral("collected");
    rerank::batchstore::updateBatchJob(ws, job);
    if (p.isSet(kJson)) {
        QJsonObject j = report.toJson(!p.isSet(QStringLiteral("summary-only")));
        j.insert(QStringLiteral("batch"), batchJobJson(job));
        out(compact(j));
        return report.canceled ? 130 : 0;
    }
    out(batchJobText(job));
    out(summaryText(report.summary));
    return report.canceled ? 130 : 0;
}

const Registrar rerankCommand { Command {
    QStringLiteral("rerank"),
    QStringLiteral("Rerank CF candidates with a prompt and an endpoint (offline or LLMs): one user, a list or a cohort; "
                   "routing, cascade, position-bias probe."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addOption({ QStringLiteral("user"), QStringLiteral("The user's external id (or several, comma-separated)."),
            QStringLiteral("id") });
        p.addOption({ kUsersFile, QStringLiteral("A file of user ids, one per line (# comments; first CSV column)."),
            QStringLiteral("file") });
        p.addOption({ kCohort, QStringLiteral("All users of a cohort: cold, warm or all."), QStringLiteral("cohort") });
        p.addOption({ QStringLiteral("limit"), QStringLiteral("With --cohort: at most this many users (in user order)."),
            QStringLiteral("n") });
        p.addOption({ QStringLiteral("shard"),
            QStringLiteral("Only shard I of N of the selected users (stable hash of the external id; docs/SCALE.md)."),
            QStringLiteral("I/N") });
        p.addOption({ QStringLiteral("out"),
            QStringLiteral("With --shard: store the shard's run in this file of its own (created; the same command "
                           "again resumes it) and never write the workspace, which may be read-only; fold the files "
                           "with runs merge (docs/SCALE.md)."),
            QStringLiteral("file") });
        p.addOption(
            { QStringLiteral("prompt"), QStringLiteral("Template NAME, NAME@VERSION or NAME@LABEL (default listwise)."),
                QStringLiteral("ref"), QStringLiteral("listwise") });
        p.addOption({ QStringLiteral("cold-prompt"),
            QStringLiteral("Template for cold-start users (default: coldstart, or --prompt when --prompt is given)."),
            QStringLiteral("ref") });
        p.addOption({ QStringLiteral("endpoint"), QStringLiteral("Endpoint name (default: the workspace's default)."),
            QStringLiteral("name") });
        p.addOption({ QStringLiteral("cascade"),
            QStringLiteral("Endpoints cheapest first, comma-separated: an unusable answer escalates to the next."),
            QStringLiteral("a,b") });
        p.addOption({ QStringLiteral("model"), QStringLiteral("Override the endpoint's model."), QStringLiteral("model") });
        p.addOption({ QStringLiteral("cf-model"), QStringLiteral("CF model or snapshot name for candidates (default ease)."),
            QStringLiteral("name"), QStringLiteral("ease") });
        p.addOption({ QStringLiteral("candidates"), QStringLiteral("CF candidates to rerank (default 50)."),
            QStringLiteral("n"), QStringLiteral("50") });
        p.addOption({ QStringLiteral("k"), QStringLiteral("How many to pick (default 10)."), QStringLiteral("k"),
            QStringLiteral("10") });
        p.addOption({ QStringLiteral("route"),
            QStringLiteral("all (every user to the LLM, default) or selective (cold, low-confidence, high-value only)."),
            QStringLiteral("mode"), QStringLiteral("all") });
        p.addOption({ QStringLiteral("route-rules"),
            QStringLiteral("With --route selective: rules to apply (default cold,low_confidence,high_value)."),
            QStringLiteral("rules") });
        p.addOption({ QStringLiteral("confidence-threshold"),
            QStringLiteral("Low-confidence rule: CF confidence below this goes to the LLM (default 0.6)."),
            QStringLiteral("x") });
        p.addOption({ QStringLiteral("concurrency"),
            QStringLiteral("Users waiting on a call at once (default: the endpoint's max concurrent)."), QStringLiteral("n") });
        p.addOption({ QStringLiteral("probe"),
            QStringLiteral("Position-bias probe: rerank each user's candidates in N shuffled orders (N >= 2)."),
            QStringLiteral("n") });
        p.addOption({ QStringLiteral("seed"), QStringLiteral("Seed of the probe's shuffles (default 1)."), QStringLiteral("s"),
            QStringLiteral("1") });
        p.addOption({ QStringLiteral("max-cost"),
            QStringLiteral("Spending cap in USD: no call is made that could take the run past it (its worst case is "
                           "reserved first); users past the cap keep the CF order."),
            QStringLiteral("usd") });
        p.addOption({ QStringLiteral("breaker-probes"),
            QStringLiteral("At an open circuit breaker the run pauses for its probe instead of giving the users the CF "
                           "order, until this many probes in a row have failed (default 3; 0 = never wait)."),
            QStringLiteral("n") });
        p.addOption({ QStringLiteral("yes"),
            QStringLiteral("Run even when the projected calls or cost exceed the confirmation ceiling "
                           "(--ceiling-calls, --ceiling-usd).") });
        p.addOption({ QStringLiteral("ceiling-calls"),
            QStringLiteral("Confirmation ceiling: more projected calls need --yes (default %1; env RECWB_CEILING_CALLS).")
                .arg(pipeline::RunCeiling::kDefaultCalls),
            QStringLiteral("n") });
        p.addOption({ QStringLiteral("ceiling-usd"),
            QStringLiteral("Confirmation ceiling: a higher projected cost needs --yes (default %1; env RECWB_CEILING_USD).")
                .arg(pipeline::RunCeiling::kDefaultUsd),
            QStringLiteral("usd") });
        p.addOption({ QStringLiteral("resume"),
            QStringLiteral("Continue an interrupted or canceled stored run: its users that have no result yet, with "
                           "its prompt, endpoints, candidates, K and routing."),
            QStringLiteral("run") });
        p.addOption({ QStringLiteral("batch-api"),
            QStringLiteral("Send the users that need a call as one provider batch (OpenAI Batch, Anthropic Message "
                           "Batches; half price, results within 24 h) and return the run id; collect with recwb-cli "
                           "runs collect RUN.") });
        p.addOption({ QStringLiteral("no-cache"), QStringLiteral("Do not read the response cache (fresh calls).") });
        p.addOption({ QStringLiteral("no-store"), QStringLiteral("Do not store the run in the workspace.") });
        addWhatIfOptions(p); // one --user only; a what-if run is never stored
        p.addOption({ QStringLiteral("summary-only"), QStringLiteral("Print the summary without per-user lists.") });
        p.addOption({ kJson, QStringLiteral("Print one JSON object (run id, summary, users).") });
    },
    [](QCommandLineParser& p) {
        const QString outFile = p.value(QStringLiteral("out"));
        if (p.isSet(QStringLiteral("out"))) {
            if (outFile.isEmpty() || !p.isSet(QStringLiteral("shard")))
                throw UsageError(QStringLiteral("--out FILE stores a shard's run in a file of its own: give --shard I/N "
                                                "with it"));
            for (const char* option : { "resume", "no-store", "batch-api" })
                if (p.isSet(QLatin1StringView(option)))
                    throw UsageError(QStringLiteral("--out does not take --%1 (the same command again resumes the "
                                                    "shard's file)")
                                         .arg(QLatin1StringView(option)));
            if (hasWhatIf(p))
                throw UsageError(QStringLiteral("--out does not take --without/--with"));
        }
        useBatchScheduling(); // before the network and worker threads start
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        const std::optional<rerank::store::RunInfo> resumed = runToResume(p, *ws);
        const Dataset ds = ws->load(TaskControl { progressPrinter(), {} });
        std::vector<int32_t> users
            = resumed ? usersLeft(*ws, ds, *resumed) : selectUsers(p, ds, kDefaultColdThreshold);
        QString note;
        const auto model = cf::snapshotOrTrain(*ws, ds,
            resumed ? resumed->params.value(QStringLiteral("cf_model")).toString() : p.value(QStringLiteral("cf-model")),
            &note);

        pipeline::BatchOptions options;
        options.prompt = p.value(QStringLiteral("prompt"));
        // Cold users get the cold-start template unless a prompt is chosen explicitly (a prompt
        // engineer iterating one template sees that template on every user).
        options.coldPrompt = p.isSet(QStringLiteral("cold-prompt")) ? p.value(QStringLiteral("cold-prompt"))
            : p.isSet(QStringLiteral("prompt"))                     ? QString()
                                                                    : QStringLiteral("coldstart");
        if (p.isSet(QStringLiteral("cascade")) && p.isSet(QStringLiteral("endpoint")))
            throw UsageError(QStringLiteral("give --endpoint or --cascade, not both"));
        options.cascade = p.isSet(QStringLiteral("cascade"))
            ? p.value(QStringLiteral("cascade")).split(u',', Qt::SkipEmptyParts)
            : QStringList { p.value(QStringLiteral("endpoint")) };
        options.model = p.value(QStringLiteral("model"));
        options.candidates = intOption(p, QStringLiteral("candidates"), 50, 1, kMaxCandidates);
        options.k = intOption(p, QStringLiteral("k"), 10, 1, kMaxK);
        options.bypassCache = p.isSet(QStringLiteral("no-cache"));
        options.routing = routingFrom(p, *ws);
        options.concurrency = intOption(p, QStringLiteral("concurrency"), 0, 1, kMaxConcurrency);
        options.probeOrders = intOption(p, QStringLiteral("probe"), 0, 2, kMaxProbeOrders);
        if (options.probeOrders >= 2 && !options.routing.everyone)
            throw UsageError(QStringLiteral("--probe reranks every order of every user: it does not take --route selective"));
        options.seed = static_cast<quint64>(std::max(1, intOption(p, QStringLiteral("seed"), 1)));
        options.storeRun = !p.isSet(QStringLiteral("no-store"));
        std::optional<rerank::PromptUser> whatIf;
        if (hasWhatIf(p)) {
            if (resumed || users.size() != 1 || !p.isSet(QStringLiteral("user")) || p.isSet(QStringLiteral("probe")))
                throw UsageError(QStringLiteral("--without/--with edit one user's history: give one --user, without "
                                                "--probe or --resume"));
            whatIf = whatIfUser(p, ds, users.front());
            options.storeRun = false; // nothing is written for a what-if
        }
        if (p.isSet(QStringLiteral("max-cost"))) {
            bool ok = false;
            const double cap = p.value(QStringLiteral("max-cost")).toDouble(&ok);
            if (!ok || !std::isfinite(cap) || cap < 0)
                throw UsageError(QStringLiteral("--max-cost: \"%1\" is not an amount in USD >= 0").arg(p.value(QStringLiteral("max-cost"))));
            options.maxCostUsd = cap;
        }
        if (p.isSet(QStringLiteral("breaker-probes"))) {
            bool ok = false;
            const int n = p.value(QStringLiteral("breaker-probes")).toInt(&ok);
            if (!ok || n < 0 || n > 1000)
                throw UsageError(QStringLiteral("--breaker-probes: \"%1\" is not a whole number from 0 to 1000")
                                     .arg(p.value(QStringLiteral("breaker-probes"))));
            options.breakerProbes = n;
        }
        options.extraParams = { { QStringLiteral("cf_model"), model->algorithm() },
            { QStringLiteral("cf_model_source"), note } };
        if (p.isSet(QStringLiteral("shard"))) {
            const pipeline::Shard shard = pipeline::parseShard(p.value(QStringLiteral("shard")));
            options.extraParams.insert(QStringLiteral("shard"), QStringLiteral("%1/%2").arg(shard.index).arg(shard.count));
        }
        if (resumed)
            applyRunParams(p.isSet(QStringLiteral("concurrency")), *resumed, options);
        if (!outFile.isEmpty()) {
            options.extraParams.insert(QStringLiteral("source"), pipeline::sourceFingerprint(ds));
            if (const auto unfinished = openShardOutput(outFile, *ws, ds, users, options)) {
                applyRunParams(p.isSet(QStringLiteral("concurrency")), *unfinished, options);
                users = shardUsersLeft(outFile, ds, *unfinished);
                if (users.empty())
                    return 0; // every result was stored: openShardOutput... marked it finished
            }
        }
        if (!p.isSet(QStringLiteral("yes")))
            checkCeiling(p, *ws, options, static_cast<qint64>(users.size()));
        if (p.isSet(QStringLiteral("batch-api"))) {
            if (resumed || whatIf || !options.storeRun || options.maxCostUsd || options.probeOrders >= 2)
                throw UsageError(QStringLiteral("--batch-api submits a new stored run: it does not take --resume, "
                                                "--without/--with, --no-store, --max-cost or --probe"));
            return submitProviderBatch(p, *ws, ds, *model, options, users);
        }

        pipeline::RerankService service;
        service.open(ws->path(), outFile);
        pipeline::RerankRequest request;
        request.dataset = std::shared_ptr<const Dataset>(&ds, [](const Dataset*) {}); // outlives the service
        request.cfModel = model;
        request.users = users;
        request.whatIf = whatIf;
        request.options = options;
        const pipeline::BatchReport report = awaitRerank(service, std::move(request)).report;
        if (!report.error.isEmpty())
            throw Error(report.error);
        const int code = report.canceled ? 130 : 0; // SIGINT: the partial summary, then 130

        const bool single = users.size() == 1 && options.probeOrders < 2 && !report.outcomes.empty() && !resumed;
        if (p.isSet(kJson)) {
            if (single) { // the single-user shape: one outcome object
                QJsonObject j = report.outcomes.front().toJson();
                j.insert(QStringLiteral("cf_model"), model->algorithm());
                j.insert(QStringLiteral("cf_model_source"), note);
                j.insert(QStringLiteral("run_id"), report.runId);
                if (whatIf)
                    j.insert(QStringLiteral("what_if_interactions"), static_cast<int>(whatIf->history.size()));
                if (const User& u = ds.users[static_cast<size_t>(users.front())]; u.isSynthetic())
                    j.insert(QStringLiteral("synthetic_of"), u.syntheticOf);
                out(compact(j));
            } else {
                QJsonObject j = report.toJson(!p.isSet(QStringLiteral("summary-only")));
                j.insert(QStringLiteral("cf_model"), model->algorithm());
                if (!outFile.isEmpty())
                    j.insert(QStringLiteral("out"), outFile);
                out(compact(j));
            }
            return code;
        }
        if (single) {
            if (const User& u = ds.users[static_cast<size_t>(users.front())]; u.isSynthetic())
                out(QStringLiteral("Synthetic user %1 (saved from a what-if of %2; not evaluated)").arg(u.externalId, u.syntheticOf));
            out(userText(report.outcomes.front(), model->algorithm(), options.bypassCache));
        } else {
            if (!p.isSet(QStringLiteral("summary-only"))) {
                QString table;
                for (const auto& o : report.outcomes) {
                    QStringList top;
                    for (qsizetype i = 0; i < std::min<qsizetype>(3, o.result.items.size()); ++i)
                        top.append(o.titles.value(i).left(24));
                    table += QStringLiteral("%1 %2 %3 %4 %5\n")
                                 .arg(o.userId.leftJustified(10), o.route.leftJustified(15),
                                     o.answeredBy().leftJustified(14),
                                     o.fallback() ? QStringLiteral("fallback") : QStringLiteral("        "),
                                     top.join(QStringLiteral(" | ")));
                }
                out(table.trimmed());
            }
            for (const auto& probe : report.probes)
                out(QStringLiteral("Probe %1: %2 orders, Kendall tau mean %3 (min %4), top-K overlap %5; Borda top: %6")
                        .arg(probe.userId)
                        .arg(probe.stats.runs)
                        .arg(probe.stats.meanKendallTau, 0, 'f', 3)
                        .arg(probe.stats.minKendallTau, 0, 'f', 3)
                        .arg(probe.stats.meanTopKOverlap, 0, 'f', 3)
                        .arg([&] {
                            QStringList ids;
                            for (size_t i = 0; i < std::min<size_t>(10, probe.stats.borda.size()); ++i)
                                ids.append(probe.candidateIds.value(probe.stats.borda[i].candidate));
                            return ids.join(u',');
                        }()));
            out(summaryText(report.summary));
        }
        if (report.runId > 0 && !outFile.isEmpty())
            err(QStringLiteral("%1 %2 (run %3; fold the shards with recwb-cli runs merge -w W FILE...%4)")
                    .arg(report.canceled ? QStringLiteral("Canceled; the finished users are kept in")
                                         : QStringLiteral("Stored in"),
                        outFile)
                    .arg(report.runId)
                    .arg(report.canceled ? QStringLiteral("; continue with the same command") : QString()));
        else if (report.runId > 0)
            err(QStringLiteral("%1 run %2 (recwb-cli runs show %2 -w %3%4)")
                    .arg(report.canceled ? QStringLiteral("Canceled; the finished users are kept in")
                                         : QStringLiteral("Stored as"))
                    .arg(report.runId)
                    .arg(ws->path(),
                        report.canceled ? QStringLiteral("; continue with recwb-cli rerank --resume %1").arg(report.runId)
                                        : QString()));
        return code;
    } } };

// ---- runs ----

// One shard given to runs merge: a run of the workspace, or a shard's own file
// (rerank --shard I/N --out FILE), which holds exactly one run.
struct ShardPart {
    QString label; // "run 4" or the file as given
    rerank::store::RunInfo run;
    QList<QPair<QString, QJsonObject>> results;
    std::unique_ptr<Workspace> file; // null for a run of the workspace
};

ShardPart shardPart(Workspace& ws, const QString& text)
{
    ShardPart part;
    bool isId = false;
    const qint64 id = text.toLongLong(&isId);
    if (!QFileInfo(text).isFile() && isId) {
        const auto run = rerank::store::findRun(ws, id);
        if (!run)
            throw Error(QStringLiteral("%1: no rerank run '%2'").arg(ws.path(), text));
        part.label = QStringLiteral("run %1").arg(id);
        part.run = *run;
        part.results = rerank::store::runResults(ws, id);
        return part;
    }
    if (!QFileInfo::exists(text))
        throw Error(QStringLiteral("'%1' is neither a run of %2 nor a file").arg(text, ws.path()));
    part.file = Workspace::open(text);
    part.label = text;
    const QList<rerank::store::RunInfo> runs = rerank::store::listRuns(*part.file);
    if (part.file->meta(kShardMeta).isEmpty() || runs.size() != 1)
        throw Error(QStringLiteral("%1 is not a shard's file (rerank --shard I/N --out FILE holding one run)").arg(text));
    part.run = runs.front();
    part.results = rerank::store::runResults(*part.file, part.run.id);
    return part;
}

// The summary an unsharded run would have stored, recomputed from every per-user result
// (latency percentiles over all users, not averaged per shard); wall_ms is the longest
// shard's and the response-cache counters are the shards' sums (both of the last session
// of a resumed shard).
QJsonObject mergedSummary(const Workspace& ws, const std::vector<ShardPart>& parts,
    const QList<QPair<QString, QJsonObject>>& results)
{
    const QJsonObject& params = parts.front().run.params;
    if (params.value(QStringLiteral("mode")).toString() == u"probe")
        return rerank::store::summarizeStoredResults(results); // a probe's rows are per order
    std::vector<pipeline::RerankOutcome> outcomes;
    outcomes.reserve(static_cast<size_t>(results.size()));
    for (const auto& r : results)
        outcomes.push_back(pipeline::RerankOutcome::fromJson(r.second));
    const rerank::PriceTable prices = rerank::PriceTable::loadWithOverride();
    std::vector<pipeline::TierInfo> tiers;
    for (const QJsonValue& v : params.value(QStringLiteral("cascade")).toArray()) {
        const QString name = v.toObject().value(QStringLiteral("endpoint")).toString();
        pipeline::TierInfo t;
        if (const auto e = rerank::store::findEndpoint(ws, name))
            t.profile = *e;
        t.profile.name = name;
        t.profile.model = v.toObject().value(QStringLiteral("model")).toString();
        t.prices = prices.pricesFor(t.profile);
        tiers.push_back(t);
    }
    double wallMs = 0;
    pipeline::CacheCounters cache;
    QJsonObject budget;
    for (const ShardPart& part : parts) {
        const QJsonObject s = part.run.summary;
        wallMs = std::max(wallMs, s.value(QStringLiteral("wall_ms")).toDouble());
        const QJsonObject rc = s.value(QStringLiteral("response_cache")).toObject();
        cache.hits += rc.value(QStringLiteral("hits")).toInt();
        cache.misses += rc.value(QStringLiteral("misses")).toInt();
        cache.bypassed += rc.value(QStringLiteral("bypassed")).toInt();
        if (s.contains(QStringLiteral("budget"))) { // each shard had the cap: the shards' sums
            const QJsonObject b = s.value(QStringLiteral("budget")).toObject();
            for (const char* key : { "max_usd", "spent_usd" })
                budget.insert(QLatin1String(key),
                    budget.value(QLatin1String(key)).toDouble() + b.value(QLatin1String(key)).toDouble());
            budget.insert(QStringLiteral("calls_not_made"),
                budget.value(QStringLiteral("calls_not_made")).toInt() + b.value(QStringLiteral("calls_not_made")).toInt());
            budget.insert(QStringLiteral("exhausted"),
                budget.value(QStringLiteral("exhausted")).toBool() || b.value(QStringLiteral("exhausted")).toBool());
        }
    }
    QJsonObject summary = pipeline::summarizeBatch(outcomes, tiers, params.value(QStringLiteral("k")).toInt(10), wallMs, cache);
    summary.insert(QStringLiteral("canceled"), false);
    if (!budget.isEmpty())
        summary.insert(QStringLiteral("budget"), budget);
    summary.insert(QStringLiteral("jobs"), static_cast<int>(outcomes.size()));
    return summary;
}

// runs merge RUN_OR_FILE...: the runs of rerank --shard 0/N .. N-1/N (same parameters
// otherwise), stored in the workspace or in files of their own (--out), become one finished
// run of the workspace: every result, the users in workspace order, the summary recomputed
// from the per-user results, the files' response-cache entries. The shards stay.
int mergeShardRuns(Workspace& ws, const QStringList& args)
{
    if (args.size() < 2)
        throw UsageError(QStringLiteral("usage: recwb-cli runs merge -w W RUN_OR_FILE... (the runs of --shard 0/N..N-1/N, "
                                        "or their --out files)"));
    // Keys that differ from one shard process to the next (source: checked against W below).
    const QStringList perShard { QStringLiteral("shard"), QStringLiteral("pid"), QStringLiteral("host"),
        QStringLiteral("status"), QStringLiteral("user_ids"), QStringLiteral("users"), QStringLiteral("concurrency"),
        QStringLiteral("resumed"), QStringLiteral("source") };
    const auto common = [&perShard](QJsonObject params) {
        for (const QString& k : perShard)
            params.remove(k);
        return params;
    };
    std::vector<ShardPart> parts;
    QMap<int, QString> byShard;
    int count = 0;
    for (const QString& text : args) {
        ShardPart part = shardPart(ws, text);
        const rerank::store::RunInfo& run = part.run;
        const QString status = rerank::store::runStatus(run);
        if (status != u"finished")
            throw Error(QStringLiteral("%1 is %2, not finished: %3")
                            .arg(part.label, status,
                                part.file ? QStringLiteral("run its command again to resume it")
                                          : QStringLiteral("resume it first")));
        const QString shardText = run.params.value(QStringLiteral("shard")).toString();
        if (shardText.isEmpty())
            throw Error(QStringLiteral("%1 is not a shard (it was not made with --shard I/N)").arg(part.label));
        const pipeline::Shard shard = pipeline::parseShard(shardText);
        if (count == 0)
            count = shard.count;
        if (shard.count != count)
            throw Error(QStringLiteral("%1 is shard %2, but %3 is one of %4 shards")
                            .arg(part.label, shardText, parts.front().label)
                            .arg(count));
        if (byShard.contains(shard.index))
            throw Error(QStringLiteral("shard %1/%2 given twice: %3 and %4")
                            .arg(shard.index)
                            .arg(count)
                            .arg(byShard.value(shard.index), part.label));
        if (!parts.empty() && common(run.params) != common(parts.front().run.params))
            throw Error(QStringLiteral("%1 was made with other parameters than %2: %3 vs %4")
                            .arg(part.label, parts.front().label, compact(common(run.params)),
                                compact(common(parts.front().run.params))));
        byShard.insert(shard.index, part.label);
        parts.push_back(std::move(part));
    }
    QStringList missing;
    for (int i = 0; i < count; ++i) {
        if (!byShard.contains(i))
            missing.append(QStringLiteral("%1/%2").arg(i).arg(count));
    }
    if (!missing.isEmpty())
        throw Error(QStringLiteral("missing shard %1: give the runs of all %2 shards").arg(missing.join(u", ")).arg(count));

    const Dataset ds = ws.load(TaskControl {});
    const QJsonObject source = pipeline::sourceFingerprint(ds);
    std::vector<std::pair<int32_t, QJsonObject>> rows;
    for (const ShardPart& part : parts) {
        const QJsonValue made = part.run.params.value(QStringLiteral("source"));
        if (!made.isUndefined() && made.toObject() != source)
            throw Error(QStringLiteral("%1 was made on other data than %2: %3 vs %4")
                            .arg(part.label, ws.path(), compact(made.toObject()), compact(source)));
        for (const auto& [externalId, result] : part.results) {
            if (ds.userIndex(externalId) < 0)
                throw Error(QStringLiteral("%1: user '%2' is not in the workspace").arg(part.label, externalId));
            rows.emplace_back(ds.userIndex(externalId), result);
        }
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    QJsonObject params = common(parts.front().run.params);
    QJsonArray userIds;
    QJsonArray mergedFrom; // run ids of the workspace, file names
    QList<QPair<QString, QJsonObject>> results;
    for (const auto& [u, result] : rows) {
        userIds.append(ds.users[static_cast<size_t>(u)].externalId);
        results.append({ ds.users[static_cast<size_t>(u)].externalId, result });
    }
    for (const ShardPart& part : parts)
        mergedFrom.append(part.file ? QJsonValue(part.label) : QJsonValue(part.run.id));
    params.insert(QStringLiteral("user_ids"), userIds);
    params.insert(QStringLiteral("users"), static_cast<int>(rows.size()));
    params.insert(QStringLiteral("merged_from"), mergedFrom);
    if (const QJsonValue made = parts.front().run.params.value(QStringLiteral("source")); !made.isUndefined())
        params.insert(QStringLiteral("source"), made);
    rerank::store::RunInfo merged = parts.front().run;
    merged.id = 0;
    merged.createdAt = 0;
    merged.params = params;
    merged.summary = {};
    const QJsonObject summary = mergedSummary(ws, parts, results);
    int cached = 0;
    const qint64 id = writeTransaction(ws, [&] {
        const qint64 newId = rerank::store::createRun(ws, merged);
        for (const auto& [u, result] : rows)
            rerank::store::putRunResult(ws, newId, ds.users[static_cast<size_t>(u)].dbId, result);
        rerank::store::setRunSummary(ws, newId, summary);
        rerank::store::setRunStatus(ws, newId, QStringLiteral("finished"));
        for (const ShardPart& part : parts)
            if (part.file)
                cached += rerank::store::cacheCopy(*part.file, ws, QDateTime::currentSecsSinceEpoch());
        return newId;
    });
    out(QStringLiteral("Merged %1 shards (%2 users%3) into run %4")
            .arg(count)
            .arg(rows.size())
            .arg(cached > 0 ? QStringLiteral(", %1 response-cache entries").arg(cached) : QString())
            .arg(id));
    return 0;
}

const Registrar runsCommand { Command {
    QStringLiteral("runs"),
    QStringLiteral("List stored rerank runs, show one (summary and per-user results), remove one, or merge the runs "
                   "of --shard I/N into one."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addPositionalArgument(QStringLiteral("action"),
            QStringLiteral("list | show ID | remove ID | merge RUN_OR_FILE... | collect RUN (a provider batch run)"));
        p.addOption({ QStringLiteral("wait"), QStringLiteral("collect: poll until the batch has ended.") });
        p.addOption({ QStringLiteral("poll-ms"), QStringLiteral("collect --wait: milliseconds between polls (default 10000)."),
            QStringLiteral("ms") });
        p.addOption({ QStringLiteral("summary-only"), QStringLiteral("collect --json: the summary without per-user lists.") });
        p.addOption({ kJson, QStringLiteral("Print JSON.") });
    },
    [](QCommandLineParser& p) {
        const QString what = action(p,
            { QStringLiteral("list"), QStringLiteral("show"), QStringLiteral("remove"), QStringLiteral("merge"),
                QStringLiteral("collect") },
            QStringLiteral("runs"));
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        if (what == u"merge")
            return mergeShardRuns(*ws, p.positionalArguments().mid(1));
        if (what == u"collect") {
            bool ok = false;
            const qint64 id = p.positionalArguments().value(1).toLongLong(&ok);
            if (!ok)
                throw UsageError(QStringLiteral("usage: recwb-cli runs collect RUN -w W [--wait]"));
            return collectProviderBatch(p, *ws, id);
        }
        // A run that did not finish in one go (interrupted, canceled, failed, resumed): its
        // summary is computed from what it holds, not from the session that stored it last.
        auto effectiveSummary = [&ws](const rerank::store::RunInfo& r, const QString& status) {
            if (status == u"finished" && !r.params.contains(QStringLiteral("resumed")))
                return r.summary;
            QJsonObject s = rerank::store::summarizeStoredResults(rerank::store::runResults(*ws, r.id));
            s.insert(QStringLiteral("canceled"), status != u"finished" && status != u"running");
            return s;
        };
        auto runJson = [&](const rerank::store::RunInfo& r) {
            const QString status = rerank::store::runStatus(r);
            return QJsonObject { { QStringLiteral("id"), r.id }, { QStringLiteral("created_at"), r.createdAt },
                { QStringLiteral("prompt"), r.promptName }, { QStringLiteral("prompt_version"), r.promptVersion.value_or(0) },
                { QStringLiteral("endpoint"), r.endpoint }, { QStringLiteral("params"), r.params },
                { QStringLiteral("status"), status }, { QStringLiteral("summary"), effectiveSummary(r, status) },
                { QStringLiteral("results"), r.results } };
        };
        if (what == u"list") {
            const auto runs = rerank::store::listRuns(*ws);
            if (p.isSet(kJson)) {
                QJsonArray a;
                for (const auto& r : runs)
                    a.append(runJson(r));
                out(compact(a));
                return 0;
            }
            for (const auto& r : runs) {
                const QString status = rerank::store::runStatus(r);
                const QJsonObject summary = effectiveSummary(r, status);
                out(QStringLiteral("%1  %2  %3  %4  %5  %6 users  cost %7  fallbacks %8")
                        .arg(QString::number(r.id).rightJustified(4),
                            QDateTime::fromSecsSinceEpoch(r.createdAt, Qt::UTC).toString(Qt::ISODate),
                            r.params.value(QStringLiteral("mode")).toString().leftJustified(5), status.leftJustified(11),
                            QString(r.promptName + u'@' + QString::number(r.promptVersion.value_or(0))).leftJustified(14),
                            QString::number(r.results).rightJustified(5), usd(summary.value(QStringLiteral("cost_usd"))))
                        .arg(summary.value(QStringLiteral("fallbacks")).toInt()));
            }
            return 0;
        }
        const QStringList pos = p.positionalArguments();
        bool ok = false;
        const qint64 id = pos.value(1).toLongLong(&ok);
        if (!ok)
            throw Error(QStringLiteral("usage: recwb-cli runs %1 ID").arg(what));
        if (what == u"remove") {
            if (!rerank::store::removeRun(*ws, id))
                throw Error(QStringLiteral("%1: no rerank run %2").arg(ws->path()).arg(id));
            out(QStringLiteral("Removed run %1").arg(id));
            return 0;
        }
        const auto run = rerank::store::findRun(*ws, id);
        if (!run)
            throw Error(QStringLiteral("%1: no rerank run %2").arg(ws->path()).arg(id));
        const auto results = rerank::store::runResults(*ws, id);
        if (p.isSet(kJson)) {
            QJsonObject j = runJson(*run);
            if (const auto job = rerank::batchstore::findBatchJob(*ws, id))
                j.insert(QStringLiteral("batch"), batchJobJson(*job));
            QJsonArray a;
            for (const auto& r : results)
                a.append(r.second);
            j.insert(QStringLiteral("users"), a);
            out(compact(j));
            return 0;
        }
        const QString status = rerank::store::runStatus(*run);
        QJsonObject shownParams = run->params;
        const qsizetype asked = shownParams.value(QStringLiteral("user_ids")).toArray().size();
        shownParams.remove(QStringLiteral("user_ids")); // can be long; --json has them
        out(QStringLiteral("Run %1, %2, %3, %4 user results%5; parameters %6")
                .arg(run->id)
                .arg(QDateTime::fromSecsSinceEpoch(run->createdAt, Qt::UTC).toString(Qt::ISODate), status)
                .arg(results.size())
                .arg(asked > 0 ? QStringLiteral(" of %1 users").arg(asked) : QString())
                .arg(compact(shownParams)));
        const auto batchJob = rerank::batchstore::findBatchJob(*ws, id);
        if (batchJob)
            out(batchJobText(*batchJob));
        if (batchJob && (status == u"submitted" || status == u"submitting"))
            out(QStringLiteral("Collect its results with recwb-cli runs collect %1 -w %2").arg(run->id).arg(ws->path()));
        else if (status != u"finished" && status != u"running")
            out(QStringLiteral("This run did not finish; the summary is computed from the results it holds. Continue "
                               "it with recwb-cli rerank --resume %1 -w %2")
                    .arg(run->id)
                    .arg(ws->path()));
        out(summaryText(effectiveSummary(*run, status)));
        return 0;
    } } };

// ---- high-value users ----

const Registrar highValueCommand { Command {
    QStringLiteral("high-value"),
    QStringLiteral("Mark users as high-value (the selective routing always sends them to the LLM), unmark, list."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addPositionalArgument(QStringLiteral("action"), QStringLiteral("list | add IDS... | remove IDS..."));
        p.addOption({ kUsersFile, QStringLiteral("Also take ids from this file (one per line)."), QStringLiteral("file") });
    },
    [](QCommandLineParser& p) {
        const QString what = action(p, { QStringLiteral("list"), QStringLiteral("add"), QStringLiteral("remove") },
            QStringLiteral("high-value"));
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        if (what == u"list") {
            for (const QString& id : rerank::store::highValueUsers(*ws))
                out(id);
            return 0;
        }
        QStringList ids = p.positionalArguments().mid(1);
        if (p.isSet(kUsersFile)) {
            QFile f(p.value(kUsersFile));
            if (!f.open(QIODevice::ReadOnly | QIODevice::Text))
                throw Error(QStringLiteral("%1: %2").arg(f.fileName(), f.errorString()));
            for (const QString& line : QString::fromUtf8(f.readAll()).split(u'\n')) {
                const QString id = line.trimmed();
                if (!id.isEmpty() && !id.startsWith(u'#'))
                    ids.append(id);
            }
        }
        if (ids.isEmpty())
            throw Error(QStringLiteral("usage: recwb-cli high-value %1 ID... [--users FILE]").arg(what));
        const int changed = rerank::store::setHighValue(*ws, ids, what == u"add");
        out(QStringLiteral("%1 %2 user(s)").arg(what == u"add" ? QStringLiteral("Marked") : QStringLiteral("Unmarked")).arg(changed));
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
