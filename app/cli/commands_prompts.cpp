#include "cli.h"

#include "data/workspace.h"
#include "rerank/prompt.h"
#include "rerank/store.h"
#include "util/error.h"

#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

namespace recwb::cli {
namespace {

const QString kWorkspace = QStringLiteral("workspace");
const QString kJson = QStringLiteral("json");

void addWorkspaceOption(QCommandLineParser& p)
{
    p.addOption({ { QStringLiteral("w"), kWorkspace }, QStringLiteral("Workspace file (*.recwb)."), QStringLiteral("file") });
}

QString compact(const QJsonValue& v)
{
    return QString::fromUtf8(v.isArray() ? QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact)
                                         : QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact));
}

QString action(const QCommandLineParser& p, const QStringList& accepted, const QString& command)
{
    const QStringList pos = p.positionalArguments();
    if (pos.isEmpty() || !accepted.contains(pos.first()))
        throw Error(QStringLiteral("usage: recwb-cli %1 %2 ...").arg(command, accepted.join(u'|')));
    return pos.first();
}

// ---- prompts ----

const Registrar promptsCommand { Command {
    QStringLiteral("prompts"),
    QStringLiteral("List prompt templates, show one, or add a version from a file."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addPositionalArgument(QStringLiteral("action"),
            QStringLiteral("list | show NAME[@VERSION] | add-version NAME --file F [--note N]"));
        p.addOption({ QStringLiteral("file"), QStringLiteral("Template text file (mustache)."), QStringLiteral("file") });
        p.addOption({ QStringLiteral("note"), QStringLiteral("A note for the new version."), QStringLiteral("text") });
        p.addOption({ kJson, QStringLiteral("Print JSON.") });
    },
    [](QCommandLineParser& p) {
        const QString what = action(p,
            { QStringLiteral("list"), QStringLiteral("show"), QStringLiteral("add-version") }, QStringLiteral("prompts"));
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        rerank::store::seedDefaultTemplates(*ws);
        auto toJson = [](const rerank::store::TemplateVersion& t, bool withText) {
            QJsonObject o { { QStringLiteral("name"), t.name }, { QStringLiteral("version"), t.version },
                { QStringLiteral("ref"), t.ref() }, { QStringLiteral("note"), t.note },
                { QStringLiteral("created_at"), t.createdAt } };
            if (t.parentVersion)
                o.insert(QStringLiteral("parent_version"), *t.parentVersion);
            if (withText)
                o.insert(QStringLiteral("text"), t.text);
            return o;
        };
        if (what == u"list") {
            const auto list = rerank::store::listTemplates(*ws);
            if (p.isSet(kJson)) {
                QJsonArray a;
                for (const auto& t : list)
                    a.append(toJson(t, false));
                out(compact(a));
                return 0;
            }
            for (const auto& t : list)
                out(QStringLiteral("%1  %2  %3")
                        .arg(t.ref().leftJustified(20),
                            QDateTime::fromSecsSinceEpoch(t.createdAt, Qt::UTC).toString(Qt::ISODate), t.note));
            return 0;
        }
        const QStringList pos = p.positionalArguments();
        if (pos.size() < 2)
            throw Error(QStringLiteral("usage: recwb-cli prompts %1 NAME%2").arg(what,
                what == u"show" ? QStringLiteral("[@VERSION]") : QStringLiteral(" --file F [--note N]")));
        if (what == u"show") {
            const auto t = rerank::store::getTemplate(*ws, pos[1]);
            if (p.isSet(kJson))
                out(compact(toJson(t, true)));
            else
                out(t.text);
            return 0;
        }
        const QString fileName = requireOption(p, QStringLiteral("file"));
        QFile f(fileName);
        if (!f.open(QIODevice::ReadOnly))
            throw Error(QStringLiteral("%1: %2").arg(fileName, f.errorString()));
        const QString text = QString::fromUtf8(f.readAll());
        if (pos[1].contains(u'@'))
            throw Error(QStringLiteral("add-version takes a template name without @version"));
        rerank::checkTemplate(rerank::PromptTemplate { pos[1], 0, text }); // refuse a broken template before storing
        const auto t = rerank::store::addTemplateVersion(*ws, pos[1], text, p.value(QStringLiteral("note")));
        if (p.isSet(kJson))
            out(compact(toJson(t, false)));
        else
            out(QStringLiteral("Added %1").arg(t.ref()));
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
