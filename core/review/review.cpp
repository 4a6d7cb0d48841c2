#include "review/review.h"

#include "data/import/textreader.h"
#include "data/sqlite.h"
#include "data/workspace.h"
#include "eval/split.h"
#include "pipeline/armspec.h"
#include "util/error.h"
#include "util/inerttext.h"

#include <QFile>
#include <QJsonDocument>
#include <QMap>
#include <QSaveFile>
#include <QSet>
#include <QTimeZone>
#include <climits>
#include <algorithm>
#include <map>

namespace recwb::review {

namespace {

    qint64 nowSeconds() { return QDateTime::currentSecsSinceEpoch(); }

    QDateTime fromSeconds(qint64 s) { return QDateTime::fromSecsSinceEpoch(s, Qt::UTC); }

    QJsonObject parseObject(const QString& text)
    {
        return QJsonDocument::fromJson(text.toUtf8()).object();
    }

    QString compact(const QJsonObject& o) { return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact)); }

    QJsonArray toArray(const QStringList& l) { return QJsonArray::fromStringList(l); }

    QStringList toList(const QJsonValue& v)
    {
        QStringList out;
        for (const QJsonValue& x : v.toArray())
            out << x.toString();
        return out;
    }

    // A null QString binds NULL (sqlite.h): the user's own note has item "" (not NULL), and
    // NULL never compares equal to ''.
    QString notNull(const QString& s) { return s.isNull() ? QStringLiteral("") : s; }

    void checkReviewer(const QString& reviewer)
    {
        if (reviewer.trimmed().isEmpty())
            throw Error(QStringLiteral("review: a verdict needs a reviewer name"));
    }

} // namespace

QString verdictName(Verdict v)
{
    switch (v) {
    case Verdict::Good:
        return QStringLiteral("good");
    case Verdict::Bad:
        return QStringLiteral("bad");
    case Verdict::Unsure:
        return QStringLiteral("unsure");
    case Verdict::None:
        break;
    }
    return {};
}

Verdict verdictFromName(const QString& name)
{
    if (name == u"good")
        return Verdict::Good;
    if (name == u"bad")
        return Verdict::Bad;
    if (name == u"unsure")
        return Verdict::Unsure;
    return Verdict::None;
}

// ---------------------------------------------------------------- QueueSpec

int QueueSpec::coldN() const
{
    if (!simulated())
        return -1;
    const eval::SplitSpec s = eval::SplitSpec::parse(source);
    return s.kind == eval::SplitKind::ColdN ? s.coldN : -1;
}

void QueueSpec::validate() const
{
    if (simulated()) {
        bool ok = source.startsWith(u"cold@");
        if (ok) {
            try {
                ok = eval::SplitSpec::parse(source).kind == eval::SplitKind::ColdN;
            } catch (const Error&) {
                ok = false;
            }
        }
        if (!ok)
            throw Error(QStringLiteral("review queue: source '%1' is neither 'cold' (the workspace's cold users) nor "
                                       "'cold@N' (simulated cold users of the cold@N split)")
                            .arg(source));
    }
    if (sample < 0)
        throw Error(QStringLiteral("review queue: sample must be 0 (every user) or positive, not %1").arg(sample));
    if (k < 1 || k > 100)
        throw Error(QStringLiteral("review queue: K must be 1..100, not %1").arg(k));
    if (coldThreshold < 1)
        throw Error(QStringLiteral("review queue: the cold threshold must be positive, not %1").arg(coldThreshold));
    try {
        (void)pipeline::ArmSpec::parse(arm);
        // The key k itself (any case and spacing, as ArmSpec reads it), not the tail of "rerank=".
        const QStringList pairs = arm.split(u',');
        const auto isK = [](const QString& p) {
            return p.section(u'=', 0, 0).trimmed().compare(u"k", Qt::CaseInsensitive) == 0;
        };
        if (std::any_of(pairs.begin(), pairs.end(), isK))
            throw Error(QStringLiteral("set the list length as the queue's K, not with k= in the arm"));
    } catch (const Error& e) {
        throw Error(QStringLiteral("review queue: arm '%1': %2").arg(arm, e.message()));
    }
}

QJsonObject QueueSpec::toJson() const
{
    return QJsonObject {
        { QStringLiteral("name"), name },
        { QStringLiteral("source"), source },
        { QStringLiteral("sample"), sample },
        { QStringLiteral("seed"), QString::number(seed) },
        { QStringLiteral("arm"), arm },
        { QStringLiteral("k"), k },
        { QStringLiteral("cold_threshold"), coldThreshold },
    };
}

QueueSpec QueueSpec::fromJson(const QJsonObject& o)
{
    QueueSpec s;
    s.name = o.value(QStringLiteral("name")).toString();
    s.source = o.value(QStringLiteral("source")).toString(s.source);
    s.sample = o.value(QStringLiteral("sample")).toInt(0);
    s.seed = o.value(QStringLiteral("seed")).toString(QStringLiteral("42")).toULongLong();
    s.arm = o.value(QStringLiteral("arm")).toString(s.arm);
    s.k = o.value(QStringLiteral("k")).toInt(10);
    s.coldThreshold = o.value(QStringLiteral("cold_threshold")).toInt(kDefaultColdThreshold);
    s.validate();
    return s;
}

QString QueueSpec::describe() const
{
    QString who = simulated() ? QStringLiteral("simulated %1").arg(source) : QStringLiteral("real cold users");
    if (sample > 0)
        who += QStringLiteral(", sample %1 (seed %2)").arg(sample).arg(seed);
    return QStringLiteral("%1, %2, K %3").arg(who, arm).arg(k);
}

// ---------------------------------------------------------------- QueueUser

QStringList QueueUser::itemIds() const
{
    QStringList out;
    for (const QJsonValue& v : items())
        out << v.toObject().value(QStringLiteral("item_id")).toString();
    return out;
}

QString QueueUser::sourceOf(const QString& itemId) const
{
    for (const Candidate& c : candidates)
        if (c.itemId == itemId)
            return c.source;
    return {};
}

QJsonObject QueueUser::toJson() const
{
    QJsonArray cands;
    for (const Candidate& c : candidates)
        cands.append(QJsonObject { { QStringLiteral("item_id"), c.itemId }, { QStringLiteral("title"), c.title },
            { QStringLiteral("score"), c.score }, { QStringLiteral("source"), c.source } });
    return QJsonObject {
        { QStringLiteral("position"), position },
        { QStringLiteral("user"), userId },
        { QStringLiteral("known"), known },
        { QStringLiteral("known_items"), toArray(knownItems) },
        { QStringLiteral("truth"), toArray(truth) },
        { QStringLiteral("profile"), profile },
        { QStringLiteral("stated_categories"), toArray(statedCategories) },
        { QStringLiteral("candidates"), cands },
        { QStringLiteral("outcome"), outcome },
    };
}

QueueUser QueueUser::fromJson(const QJsonObject& o)
{
    QueueUser u;
    u.position = o.value(QStringLiteral("position")).toInt();
    u.userId = o.value(QStringLiteral("user")).toString();
    u.known = o.value(QStringLiteral("known")).toInt();
    u.knownItems = toList(o.value(QStringLiteral("known_items")));
    u.truth = toList(o.value(QStringLiteral("truth")));
    u.profile = o.value(QStringLiteral("profile")).toObject();
    u.statedCategories = toList(o.value(QStringLiteral("stated_categories")));
    for (const QJsonValue& v : o.value(QStringLiteral("candidates")).toArray()) {
        const QJsonObject c = v.toObject();
        u.candidates.push_back({ c.value(QStringLiteral("item_id")).toString(),
            c.value(QStringLiteral("title")).toString(), c.value(QStringLiteral("score")).toDouble(),
            c.value(QStringLiteral("source")).toString() });
    }
    u.outcome = o.value(QStringLiteral("outcome")).toObject();
    return u;
}

// ---------------------------------------------------------------- storage

namespace store {

    qint64 createQueue(Workspace& ws, const QueueSpec& spec)
    {
        spec.validate();
        qint64 id = 0;
        writeTransaction(ws, [&] {
            sql::Statement st(ws.db(),
                "INSERT INTO review_queues(name, spec, status, created_at) VALUES(?, ?, 'building', ?)");
            st.bind(1, spec.name).bind(2, compact(spec.toJson())).bind(3, static_cast<int64_t>(nowSeconds())).exec();
            id = sql::queryInt(ws.db(), "SELECT last_insert_rowid()");
        });
        return id;
    }

    void addUsers(Workspace& ws, qint64 queueId, const std::vector<QueueUser>& users)
    {
        writeTransaction(ws, [&] {
            sql::Statement st(ws.db(), "INSERT OR REPLACE INTO review_users(queue_id, position, user_id, data) "
                                       "VALUES(?, ?, ?, ?)");
            for (const QueueUser& u : users) {
                st.bind(1, static_cast<int64_t>(queueId))
                    .bind(2, u.position)
                    .bind(3, u.userId)
                    .bind(4, compact(u.toJson()))
                    .exec();
                st.reset();
            }
        });
    }

    void finishQueue(Workspace& ws, qint64 queueId, const QString& status, const QString& error, qint64 experimentId)
    {
        writeTransaction(ws, [&] {
            sql::Statement st(ws.db(), "UPDATE review_queues SET status = ?, error = ?, experiment_id = ? WHERE id = ?");
            st.bind(1, status).bind(2, notNull(error));
            if (experimentId > 0)
                st.bind(3, static_cast<int64_t>(experimentId));
            else
                st.bindNull(3);
            st.bind(4, static_cast<int64_t>(queueId)).exec();
        });
    }

    namespace {
        Queue queueFrom(const sql::Statement& st)
        {
            Queue q;
            q.id = st.int64(0);
            try {
                q.spec = QueueSpec::fromJson(parseObject(st.text(2)));
            } catch (const Error&) {
                q.spec = QueueSpec {};
            }
            q.spec.name = st.text(1);
            q.status = st.text(3);
            q.error = st.text(4);
            q.experimentId = st.isNull(5) ? 0 : st.int64(5);
            q.created = fromSeconds(st.int64(6));
            q.users = static_cast<int>(st.int64(7));
            return q;
        }
        constexpr const char* kQueueColumns
            = "SELECT q.id, q.name, q.spec, q.status, q.error, q.experiment_id, q.created_at, "
              "(SELECT count(*) FROM review_users u WHERE u.queue_id = q.id) FROM review_queues q ";
    } // namespace

    std::vector<Queue> listQueues(const Workspace& ws)
    {
        std::vector<Queue> out;
        sql::Statement st(ws.db(), QByteArray(QByteArray(kQueueColumns) + "ORDER BY q.id DESC").constData());
        while (st.step())
            out.push_back(queueFrom(st));
        return out;
    }

    std::optional<Queue> findQueue(const Workspace& ws, qint64 queueId)
    {
        sql::Statement st(ws.db(), QByteArray(QByteArray(kQueueColumns) + "WHERE q.id = ?").constData());
        st.bind(1, static_cast<int64_t>(queueId));
        if (!st.step())
            return std::nullopt;
        return queueFrom(st);
    }

    std::vector<QueueUser> queueUsers(const Workspace& ws, qint64 queueId)
    {
        std::vector<QueueUser> out;
        sql::Statement st(ws.db(), "SELECT position, data FROM review_users WHERE queue_id = ? ORDER BY position");
        st.bind(1, static_cast<int64_t>(queueId));
        while (st.step()) {
            QueueUser u = QueueUser::fromJson(parseObject(st.text(1)));
            u.position = static_cast<int>(st.int64(0));
            out.push_back(std::move(u));
        }
        return out;
    }

    bool removeQueue(Workspace& ws, qint64 queueId)
    {
        bool removed = false;
        writeTransaction(ws, [&] {
            sql::Statement st(ws.db(), "DELETE FROM review_queues WHERE id = ?");
            st.bind(1, static_cast<int64_t>(queueId)).exec();
            removed = sql::queryInt(ws.db(), "SELECT changes()") > 0;
        });
        return removed;
    }

    void setVerdict(Workspace& ws, qint64 queueId, const QString& userId, const QString& itemId,
        const QString& reviewer, Verdict verdict)
    {
        checkReviewer(reviewer);
        writeTransaction(ws, [&] {
            sql::Statement st(ws.db(),
                "INSERT INTO review_verdicts(queue_id, user_id, item_id, reviewer, verdict, note, updated_at) "
                "VALUES(?, ?, ?, ?, ?, '', ?) ON CONFLICT(queue_id, user_id, item_id, reviewer) "
                "DO UPDATE SET verdict = excluded.verdict, updated_at = excluded.updated_at");
            st.bind(1, static_cast<int64_t>(queueId))
                .bind(2, notNull(userId))
                .bind(3, notNull(itemId))
                .bind(4, reviewer.trimmed());
            if (verdict == Verdict::None)
                st.bindNull(5);
            else
                st.bind(5, verdictName(verdict));
            st.bind(6, static_cast<int64_t>(nowSeconds())).exec();
        });
    }

    void setNote(Workspace& ws, qint64 queueId, const QString& userId, const QString& itemId,
        const QString& reviewer, const QString& note)
    {
        checkReviewer(reviewer);
        writeTransaction(ws, [&] {
            sql::Statement st(ws.db(),
                "INSERT INTO review_verdicts(queue_id, user_id, item_id, reviewer, verdict, note, updated_at) "
                "VALUES(?, ?, ?, ?, NULL, ?, ?) ON CONFLICT(queue_id, user_id, item_id, reviewer) "
                "DO UPDATE SET note = excluded.note, updated_at = excluded.updated_at");
            st.bind(1, static_cast<int64_t>(queueId))
                .bind(2, notNull(userId))
                .bind(3, notNull(itemId))
                .bind(4, reviewer.trimmed())
                .bind(5, notNull(note))
                .bind(6, static_cast<int64_t>(nowSeconds()))
                .exec();
        });
    }

    std::vector<VerdictRow> verdicts(const Workspace& ws, qint64 queueId, const QString& reviewer)
    {
        std::vector<VerdictRow> out;
        sql::Statement st(ws.db(),
            "SELECT user_id, item_id, reviewer, coalesce(verdict, ''), note, updated_at FROM review_verdicts "
            "WHERE queue_id = ? AND (? = '' OR reviewer = ?) ORDER BY user_id, item_id, reviewer");
        const QString r = notNull(reviewer.trimmed());
        st.bind(1, static_cast<int64_t>(queueId)).bind(2, r).bind(3, r);
        while (st.step())
            out.push_back({ queueId, st.text(0), st.text(1), st.text(2), verdictFromName(st.text(3)), st.text(4),
                fromSeconds(st.int64(5)) });
        return out;
    }

    QStringList reviewers(const Workspace& ws, qint64 queueId)
    {
        QStringList out;
        sql::Statement st(ws.db(), "SELECT DISTINCT reviewer FROM review_verdicts WHERE queue_id = ? ORDER BY reviewer");
        st.bind(1, static_cast<int64_t>(queueId));
        while (st.step())
            out << st.text(0);
        return out;
    }

} // namespace store

// ---------------------------------------------------------------- progress, agreement, summary

Progress progress(const std::vector<QueueUser>& users, const std::vector<VerdictRow>& rows, const QString& reviewer)
{
    QSet<QString> judged; // "user\x1fitem"
    const QString who = reviewer.trimmed(); // as the store writes it
    for (const VerdictRow& r : rows)
        if (r.reviewer == who && r.verdict != Verdict::None && !r.itemId.isEmpty())
            judged.insert(r.userId + QChar(0x1f) + r.itemId);
    Progress p;
    p.resumeAt = -1;
    for (const QueueUser& u : users) {
        int done = 0;
        const QStringList ids = u.itemIds();
        for (const QString& id : ids)
            done += judged.contains(u.userId + QChar(0x1f) + id) ? 1 : 0;
        p.items += static_cast<int>(ids.size());
        p.judged += done;
        if (done == ids.size())
            ++p.usersDone;
        else if (p.resumeAt < 0)
            p.resumeAt = u.position;
    }
    return p;
}

QJsonObject Agreement::toJson() const
{
    return QJsonObject {
        { QStringLiteral("a"), a },
        { QStringLiteral("b"), b },
        { QStringLiteral("users"), users },
        { QStringLiteral("items"), items },
        { QStringLiteral("observed"), observed },
        { QStringLiteral("kappa"), kappa ? QJsonValue(*kappa) : QJsonValue(QJsonValue::Null) },
    };
}

std::vector<Agreement> agreement(const std::vector<VerdictRow>& rows)
{
    // reviewer -> (user, item) -> verdict
    std::map<QString, std::map<std::pair<QString, QString>, Verdict>> by;
    for (const VerdictRow& r : rows)
        if (r.verdict != Verdict::None && !r.itemId.isEmpty())
            by[r.reviewer][{ r.userId, r.itemId }] = r.verdict;
    std::vector<Agreement> out;
    for (auto a = by.begin(); a != by.end(); ++a)
        for (auto b = std::next(a); b != by.end(); ++b) {
            Agreement g;
            g.a = a->first;
            g.b = b->first;
            // Confusion counts over the three categories (Good, Bad, Unsure = 1..3).
            double table[4][4] = {};
            QSet<QString> users;
            for (const auto& [key, va] : a->second) {
                const auto it = b->second.find(key);
                if (it == b->second.end())
                    continue;
                table[static_cast<int>(va)][static_cast<int>(it->second)] += 1;
                ++g.items;
                users.insert(key.first);
            }
            g.users = static_cast<int>(users.size());
            if (g.items > 0) {
                const double n = g.items;
                double po = 0;
                double pe = 0;
                for (int c = 1; c <= 3; ++c) {
                    po += table[c][c] / n;
                    double rowSum = 0;
                    double colSum = 0;
                    for (int j = 1; j <= 3; ++j) {
                        rowSum += table[c][j];
                        colSum += table[j][c];
                    }
                    pe += (rowSum / n) * (colSum / n);
                }
                g.observed = po;
                if (pe < 1.0 - 1e-12)
                    g.kappa = (po - pe) / (1.0 - pe);
            }
            out.push_back(g);
        }
    return out;
}

QJsonObject SummaryRow::toJson() const
{
    return QJsonObject {
        { QStringLiteral("dimension"), dimension },
        { QStringLiteral("value"), value },
        { QStringLiteral("good"), good },
        { QStringLiteral("bad"), bad },
        { QStringLiteral("unsure"), unsure },
        { QStringLiteral("good_share"), goodShare() },
    };
}

namespace {
    // The summary's dimensions, in the order rows are listed.
    const QStringList& summaryDimensions()
    {
        static const QStringList dims { QStringLiteral("source"), QStringLiteral("cold@n"), QStringLiteral("endpoint"),
            QStringLiteral("prompt"), QStringLiteral("moved") };
        return dims;
    }
} // namespace

std::vector<SummaryRow> mergeSummaries(const std::vector<std::vector<SummaryRow>>& perQueue)
{
    const QStringList& dims = summaryDimensions();
    std::map<std::pair<qsizetype, QString>, SummaryRow> acc;
    for (const auto& rows : perQueue)
        for (const SummaryRow& r : rows) {
            SummaryRow& a = acc[{ dims.indexOf(r.dimension), r.value }];
            a.dimension = r.dimension;
            a.value = r.value;
            a.good += r.good;
            a.bad += r.bad;
            a.unsure += r.unsure;
        }
    std::vector<SummaryRow> out;
    for (auto& [key, row] : acc)
        out.push_back(std::move(row));
    return out;
}

QString movedBucket(int cfRank, int rank)
{
    if (cfRank <= 0)
        return QStringLiteral("not a candidate");
    const int up = cfRank - rank;
    if (up >= 5)
        return QStringLiteral("up 5+");
    if (up >= 1)
        return QStringLiteral("up 1-4");
    if (up == 0)
        return QStringLiteral("kept");
    if (up >= -4)
        return QStringLiteral("down 1-4");
    return QStringLiteral("down 5+");
}

namespace {

    // What the export and the summary know about one reviewed item.
    struct ItemContext {
        QString title;
        int rank = 0;
        int cfRank = 0;
        QString source;
        QString explanation;
        QStringList claims;
    };

    QHash<QString, ItemContext> itemContexts(const QueueUser& u)
    {
        QHash<QString, ItemContext> out;
        for (const QJsonValue& v : u.items()) {
            const QJsonObject o = v.toObject();
            const QString id = o.value(QStringLiteral("item_id")).toString();
            out.insert(id,
                { o.value(QStringLiteral("title")).toString(), o.value(QStringLiteral("rank")).toInt(),
                    o.value(QStringLiteral("cf_rank")).toInt(), u.sourceOf(id),
                    o.value(QStringLiteral("explanation")).toString(), toList(o.value(QStringLiteral("claims"))) });
        }
        return out;
    }

    QString answeredBy(const QueueUser& u) { return u.outcome.value(QStringLiteral("answered_by")).toString(); }
    QString promptOf(const QueueUser& u) { return u.outcome.value(QStringLiteral("template")).toString(); }

} // namespace

std::vector<SummaryRow> summarize(const std::vector<QueueUser>& users, const std::vector<VerdictRow>& rows)
{
    QHash<QString, const QueueUser*> byId;
    for (const QueueUser& u : users)
        byId.insert(u.userId, &u);
    const QStringList& dims = summaryDimensions();
    std::map<std::pair<int, QString>, SummaryRow> acc;
    QHash<QString, QHash<QString, ItemContext>> contexts;
    for (const VerdictRow& r : rows) {
        if (r.verdict == Verdict::None || r.itemId.isEmpty())
            continue;
        const QueueUser* u = byId.value(r.userId);
        if (!u)
            continue;
        if (!contexts.contains(r.userId))
            contexts.insert(r.userId, itemContexts(*u));
        const ItemContext c = contexts[r.userId].value(r.itemId);
        const QString values[] = { c.source.isEmpty() ? QStringLiteral("unknown") : c.source,
            QString::number(u->known), answeredBy(*u), promptOf(*u), movedBucket(c.cfRank, c.rank) };
        for (int d = 0; d < dims.size(); ++d) {
            SummaryRow& s = acc[{ d, values[d] }];
            s.dimension = dims[d];
            s.value = values[d];
            (r.verdict == Verdict::Good ? s.good : r.verdict == Verdict::Bad ? s.bad : s.unsure) += 1;
        }
    }
    std::vector<SummaryRow> out;
    out.reserve(acc.size());
    for (auto& [key, row] : acc)
        out.push_back(std::move(row));
    return out;
}

// ---------------------------------------------------------------- export

namespace {

    QString runOf(const Queue& q)
    {
        return q.experimentId > 0 ? QStringLiteral("experiment %1").arg(q.experimentId) : QStringLiteral("live");
    }

    void saveBytes(const QString& path, const QByteArray& bytes)
    {
        QSaveFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
            throw Error(QStringLiteral("%1: cannot write the export: %2").arg(path, f.errorString()));
    }

    struct ExportRow {
        const VerdictRow* row;
        const QueueUser* user;
        ItemContext item;
    };

    std::vector<ExportRow> exportRows(const std::vector<QueueUser>& users, const std::vector<VerdictRow>& rows)
    {
        QHash<QString, const QueueUser*> byId;
        for (const QueueUser& u : users)
            byId.insert(u.userId, &u);
        QHash<QString, QHash<QString, ItemContext>> contexts;
        std::vector<ExportRow> out;
        for (const VerdictRow& r : rows) {
            const QueueUser* u = byId.value(r.userId);
            ItemContext c;
            if (u && !r.itemId.isEmpty()) {
                if (!contexts.contains(r.userId))
                    contexts.insert(r.userId, itemContexts(*u));
                c = contexts[r.userId].value(r.itemId);
            }
            out.push_back({ &r, u, c });
        }
        // Queue order, then rank (the user's own note first).
        std::stable_sort(out.begin(), out.end(), [](const ExportRow& a, const ExportRow& b) {
            const int pa = a.user ? a.user->position : INT_MAX;
            const int pb = b.user ? b.user->position : INT_MAX;
            return pa != pb ? pa < pb : a.item.rank < b.item.rank;
        });
        return out;
    }

    const QStringList kCsvHeader { QStringLiteral("queue"), QStringLiteral("user"), QStringLiteral("known"),
        QStringLiteral("item"), QStringLiteral("title"), QStringLiteral("rank"), QStringLiteral("cf_rank"),
        QStringLiteral("source"), QStringLiteral("run"), QStringLiteral("endpoint"), QStringLiteral("model"),
        QStringLiteral("prompt_version"), QStringLiteral("reviewer"), QStringLiteral("verdict"),
        QStringLiteral("note"), QStringLiteral("unsupported_claims"), QStringLiteral("time") };

} // namespace

void exportCsv(const QString& path, const Queue& queue, const std::vector<QueueUser>& users,
    const std::vector<VerdictRow>& rows)
{
    QString text = kCsvHeader.join(u',') + u'\n';
    for (const ExportRow& e : exportRows(users, rows)) {
        const VerdictRow& r = *e.row;
        const QueueUser* u = e.user;
        const QStringList cells {
            QString::number(queue.id),
            csvTextField(r.userId),
            u ? QString::number(u->known) : QString(),
            csvTextField(r.itemId),
            csvTextField(e.item.title),
            e.item.rank > 0 ? QString::number(e.item.rank) : QString(),
            e.item.cfRank > 0 ? QString::number(e.item.cfRank) : QString(),
            csvTextField(e.item.source),
            csvTextField(runOf(queue)),
            csvTextField(u ? answeredBy(*u) : QString()),
            csvTextField(u ? u->outcome.value(QStringLiteral("model")).toString() : QString()),
            csvTextField(u ? promptOf(*u) : QString()),
            csvTextField(r.reviewer),
            verdictName(r.verdict),
            csvTextField(r.note),
            QString::number(e.item.claims.size()),
            r.updated.toUTC().toString(Qt::ISODate),
        };
        text += cells.join(u',') + u'\n';
    }
    saveBytes(path, text.toUtf8());
}

void exportJson(const QString& path, const Queue& queue, const std::vector<QueueUser>& users,
    const std::vector<VerdictRow>& rows)
{
    QJsonArray list;
    for (const ExportRow& e : exportRows(users, rows)) {
        const VerdictRow& r = *e.row;
        const QueueUser* u = e.user;
        QJsonObject o {
            { QStringLiteral("user"), r.userId },
            { QStringLiteral("item"), r.itemId },
            { QStringLiteral("reviewer"), r.reviewer },
            { QStringLiteral("verdict"), r.verdict == Verdict::None ? QJsonValue() : QJsonValue(verdictName(r.verdict)) },
            { QStringLiteral("note"), r.note },
            { QStringLiteral("time"), r.updated.toUTC().toString(Qt::ISODate) },
            { QStringLiteral("run"), runOf(queue) },
        };
        if (u) {
            o.insert(QStringLiteral("known"), u->known);
            o.insert(QStringLiteral("endpoint"), answeredBy(*u));
            o.insert(QStringLiteral("model"), u->outcome.value(QStringLiteral("model")).toString());
            o.insert(QStringLiteral("prompt_version"), promptOf(*u));
        }
        if (!r.itemId.isEmpty()) {
            o.insert(QStringLiteral("title"), e.item.title);
            o.insert(QStringLiteral("rank"), e.item.rank);
            o.insert(QStringLiteral("cf_rank"), e.item.cfRank);
            o.insert(QStringLiteral("source"), e.item.source);
            o.insert(QStringLiteral("explanation"), e.item.explanation);
            o.insert(QStringLiteral("unsupported_claims"), toArray(e.item.claims));
        }
        list.append(o);
    }
    QJsonArray agree;
    for (const Agreement& a : agreement(rows))
        agree.append(a.toJson());
    QJsonArray summary;
    for (const SummaryRow& s : summarize(users, rows))
        summary.append(s.toJson());
    QJsonObject q = queue.spec.toJson();
    q.insert(QStringLiteral("id"), queue.id);
    q.insert(QStringLiteral("status"), queue.status);
    q.insert(QStringLiteral("users"), static_cast<int>(users.size()));
    q.insert(QStringLiteral("run"), runOf(queue));
    q.insert(QStringLiteral("created"), queue.created.toUTC().toString(Qt::ISODate));
    const QJsonObject doc { { QStringLiteral("queue"), q }, { QStringLiteral("verdicts"), list },
        { QStringLiteral("agreement"), agree }, { QStringLiteral("summary"), summary } };
    saveBytes(path, QJsonDocument(doc).toJson(QJsonDocument::Indented));
}

std::vector<QStringList> readCsv(const QString& path)
{
    textio::RecordReader reader(path, {}); // RFC 4180, UTF-8, as the importers read
    std::vector<QStringList> out;
    while (reader.next()) {
        QStringList row;
        for (int i = 0; i < reader.fieldCount(); ++i)
            row << reader.fieldString(i);
        out.push_back(std::move(row));
    }
    return out;
}

} // namespace recwb::review
