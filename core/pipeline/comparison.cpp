#include "pipeline/comparison.h"

#include "data/dataset.h"
#include "eval/listcompare.h"
#include "eval/usersplit.h"
#include "util/inerttext.h"

#include <QHash>
#include <QJsonArray>
#include <algorithm>

namespace recwb::pipeline {
namespace {

    QJsonValue optionalNumber(const std::optional<double>& v)
    {
        return v ? QJsonValue(*v) : QJsonValue(QJsonValue::Null);
    }

    QString moveText(const CompareRow& r)
    {
        if (r.cfRank <= 0)
            return {};
        const int m = r.move();
        return m > 0 ? QStringLiteral("▲%1").arg(m) : m < 0 ? QStringLiteral("▼%1").arg(-m) : QStringLiteral("=");
    }

    QString fixed(double v, int decimals = 3)
    {
        return QString::number(v, 'f', decimals);
    }

} // namespace

std::vector<int32_t> ArmResult::items() const
{
    std::vector<int32_t> out;
    out.reserve(rows.size());
    for (const CompareRow& r : rows)
        if (r.item >= 0)
            out.push_back(r.item);
    return out;
}

ArmResult ArmResult::fromOutcomeJson(const QJsonObject& o, const Dataset& ds, int k, const eval::UserSplit* split)
{
    ArmResult a;
    a.k = k;
    const QJsonArray items = o.value(QStringLiteral("items")).toArray();
    for (const QJsonValue& v : items) {
        if (static_cast<int>(a.rows.size()) >= k)
            break;
        const QJsonObject it = v.toObject();
        CompareRow r;
        r.itemId = it.value(QStringLiteral("item_id")).toString();
        r.item = ds.itemIndex(r.itemId);
        r.title = it.value(QStringLiteral("title")).toString();
        if (r.title.isEmpty() && r.item >= 0)
            r.title = ds.items[static_cast<size_t>(r.item)].title;
        r.rank = static_cast<int>(a.rows.size()) + 1;
        r.cfRank = it.value(QStringLiteral("cf_rank")).toInt();
        r.filled = it.value(QStringLiteral("filled")).toBool();
        r.explanation = it.value(QStringLiteral("explanation")).toString();
        for (const QJsonValue& claim : it.value(QStringLiteral("claims")).toArray())
            r.claims << claim.toString();
        r.heldOut = split && r.item >= 0 && split->isHeldOut(r.item);
        a.rows.push_back(std::move(r));
    }
    for (const QJsonValue& v : o.value(QStringLiteral("defects")).toArray())
        a.defects.append({ v.toObject().value(QStringLiteral("kind")).toString(),
            v.toObject().value(QStringLiteral("detail")).toString() });
    a.fallback = o.value(QStringLiteral("fallback")).toBool();
    a.fallbackReason = o.value(QStringLiteral("fallback_reason")).toString();
    const QJsonObject ms = o.value(QStringLiteral("stage_ms")).toObject();
    a.stageMs.candidates = ms.value(QStringLiteral("candidates")).toDouble();
    a.stageMs.enrichment = ms.value(QStringLiteral("enrichment")).toDouble();
    a.stageMs.render = ms.value(QStringLiteral("render")).toDouble();
    a.stageMs.llm = ms.value(QStringLiteral("llm")).toDouble();
    a.stageMs.parse = ms.value(QStringLiteral("parse")).toDouble();
    const QJsonObject tokens = o.value(QStringLiteral("tokens")).toObject();
    a.usage.inputTokens = tokens.value(QStringLiteral("input")).toInteger();
    a.usage.cachedInputTokens = tokens.value(QStringLiteral("cached_input")).toInteger();
    a.usage.cacheWriteTokens = tokens.value(QStringLiteral("cache_write")).toInteger();
    a.usage.outputTokens = tokens.value(QStringLiteral("output")).toInteger();
    a.usage.reasoningTokens = tokens.value(QStringLiteral("reasoning")).toInteger();
    if (o.value(QStringLiteral("cost")).isDouble())
        a.cost = o.value(QStringLiteral("cost")).toDouble();
    a.cacheHit = o.value(QStringLiteral("cache_hit")).toBool();
    a.answeredBy = o.value(QStringLiteral("answered_by")).toString();
    a.templateRef = o.value(QStringLiteral("template")).toString();
    if (split)
        a.metrics = split->accuracy(a.items(), k);
    return a;
}

QJsonObject ArmResult::toJson() const
{
    QJsonArray list;
    for (const CompareRow& r : rows)
        list.append(QJsonObject {
            { QStringLiteral("item_id"), r.itemId },
            { QStringLiteral("title"), r.title },
            { QStringLiteral("rank"), r.rank },
            { QStringLiteral("cf_rank"), r.cfRank > 0 ? QJsonValue(r.cfRank) : QJsonValue(QJsonValue::Null) },
            { QStringLiteral("move"), r.move() },
            { QStringLiteral("explanation"), r.explanation },
            { QStringLiteral("claims"), QJsonArray::fromStringList(r.claims) },
            { QStringLiteral("held_out"), r.heldOut },
            { QStringLiteral("filled"), r.filled },
        });
    QJsonArray defs;
    for (const rerank::Defect& d : defects)
        defs.append(QJsonObject { { QStringLiteral("kind"), d.kind }, { QStringLiteral("detail"), d.detail } });
    QJsonObject o {
        { QStringLiteral("label"), title },
        { QStringLiteral("spec"), spec },
        { QStringLiteral("k"), k },
        { QStringLiteral("list"), list },
        { QStringLiteral("defects"), defs },
        { QStringLiteral("fallback"), fallback },
        { QStringLiteral("fallback_reason"), fallback ? QJsonValue(fallbackReason) : QJsonValue(QJsonValue::Null) },
        { QStringLiteral("answered_by"), answeredBy },
        { QStringLiteral("template"),
            templateRef.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(templateRef) },
        { QStringLiteral("stage_ms"),
            QJsonObject { { QStringLiteral("candidates"), stageMs.candidates },
                { QStringLiteral("enrichment"), stageMs.enrichment }, { QStringLiteral("render"), stageMs.render },
                { QStringLiteral("llm"), stageMs.llm }, { QStringLiteral("parse"), stageMs.parse },
                { QStringLiteral("total"), stageMs.total() } } },
        { QStringLiteral("tokens"),
            QJsonObject { { QStringLiteral("input"), usage.inputTokens },
                { QStringLiteral("cached_input"), usage.cachedInputTokens },
                { QStringLiteral("output"), usage.outputTokens } } },
        { QStringLiteral("cost"), optionalNumber(cost) },
        { QStringLiteral("cache_hit"), cacheHit },
    };
    if (!note.isEmpty())
        o.insert(QStringLiteral("note"), note);
    if (!error.isEmpty())
        o.insert(QStringLiteral("error"), error);
    if (canceled)
        o.insert(QStringLiteral("canceled"), true);
    if (metrics)
        o.insert(QStringLiteral("metrics"),
            QJsonObject { { QStringLiteral("hr"), metrics->hr }, { QStringLiteral("ndcg"), metrics->ndcg },
                { QStringLiteral("recall"), metrics->recall } });
    else
        o.insert(QStringLiteral("metrics"), QJsonValue(QJsonValue::Null));
    return o;
}

QJsonObject ArmPair::toJson() const
{
    return { { QStringLiteral("a"), a }, { QStringLiteral("b"), b }, { QStringLiteral("k"), k },
        { QStringLiteral("overlap"), overlap }, { QStringLiteral("shared"), shared },
        { QStringLiteral("kendall_tau"), optionalNumber(kendallTau) }, { QStringLiteral("rbo"), rbo } };
}

void Comparison::computePairs()
{
    pairs.clear();
    for (size_t i = 0; i < arms.size(); ++i) {
        for (size_t j = i + 1; j < arms.size(); ++j) {
            if (!arms[i].hasList() || !arms[j].hasList())
                continue;
            const auto a = arms[i].items();
            const auto b = arms[j].items();
            ArmPair p;
            p.a = static_cast<int>(i);
            p.b = static_cast<int>(j);
            p.k = std::min(arms[i].k, arms[j].k);
            p.overlap = eval::overlapAtK(a, b, p.k);
            p.shared = static_cast<int>(std::count_if(
                a.begin(), a.end(), [&](int32_t x) { return std::find(b.begin(), b.end(), x) != b.end(); }));
            p.kendallTau = eval::kendallTauShared(a, b);
            p.rbo = eval::rankBiasedOverlap(a, b);
            pairs.push_back(p);
        }
    }
}

std::vector<AlignedRow> Comparison::alignedRows() const
{
    struct Entry {
        AlignedRow row;
        int bestRank = 0;
        int firstArm = 0;
    };
    std::vector<Entry> entries;
    QHash<QString, size_t> byId;
    for (size_t a = 0; a < arms.size(); ++a) {
        for (size_t i = 0; i < arms[a].rows.size(); ++i) {
            const CompareRow& r = arms[a].rows[i];
            auto it = byId.find(r.itemId);
            if (it == byId.end()) {
                Entry e;
                e.row.itemId = r.itemId;
                e.row.title = r.title;
                e.row.heldOut = r.heldOut || heldOutIds.contains(r.itemId);
                e.row.rowInArm.assign(arms.size(), -1);
                e.bestRank = r.rank;
                e.firstArm = static_cast<int>(a);
                it = byId.insert(r.itemId, entries.size());
                entries.push_back(std::move(e));
            }
            Entry& e = entries[*it];
            e.row.rowInArm[a] = static_cast<int>(i);
            e.bestRank = std::min(e.bestRank, r.rank);
        }
    }
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& x, const Entry& y) {
        return x.bestRank != y.bestRank ? x.bestRank < y.bestRank : x.firstArm < y.firstArm;
    });
    std::vector<AlignedRow> out;
    out.reserve(entries.size() + static_cast<size_t>(heldOutIds.size()));
    for (Entry& e : entries)
        out.push_back(std::move(e.row));
    for (qsizetype i = 0; i < heldOutIds.size(); ++i) {
        if (byId.contains(heldOutIds[i]))
            continue;
        AlignedRow r;
        r.itemId = heldOutIds[i];
        r.title = heldOutTitles.value(i);
        r.heldOut = true;
        r.rowInArm.assign(arms.size(), -1);
        out.push_back(std::move(r));
    }
    return out;
}

QJsonObject Comparison::toJson() const
{
    QJsonArray armList;
    for (const ArmResult& a : arms)
        armList.append(a.toJson());
    QJsonArray pairList;
    for (const ArmPair& p : pairs)
        pairList.append(p.toJson());
    return {
        { QStringLiteral("user"), userId },
        { QStringLiteral("split"), split.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(split) },
        { QStringLiteral("seed"),
            seed ? QJsonValue(static_cast<qint64>(*seed)) : QJsonValue(QJsonValue::Null) },
        { QStringLiteral("held_out"), QJsonArray::fromStringList(heldOutIds) },
        { QStringLiteral("arms"), armList },
        { QStringLiteral("pairs"), pairList },
    };
}

QString Comparison::toCsv() const
{
    QString text = QStringLiteral("arm,label,spec,rank,item_id,title,cf_rank,move,held_out,filled,explanation,claims\r\n");
    for (size_t a = 0; a < arms.size(); ++a)
        for (const CompareRow& r : arms[a].rows)
            text += QStringList { QString::number(a + 1), csvTextField(arms[a].title), csvTextField(arms[a].spec),
                QString::number(r.rank), csvTextField(r.itemId), csvTextField(r.title),
                r.cfRank > 0 ? QString::number(r.cfRank) : QString(), QString::number(r.move()),
                r.heldOut ? QStringLiteral("1") : QStringLiteral("0"),
                r.filled ? QStringLiteral("1") : QStringLiteral("0"), csvTextField(r.explanation),
                csvTextField(r.claims.join(QStringLiteral("; "))) }
                        .join(u',')
                + QStringLiteral("\r\n");
    return text;
}

QString Comparison::toHtml() const
{
    const auto esc = [](const QString& s) { return inertControls(s).toHtmlEscaped(); };
    QString h = QStringLiteral(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Comparison for user %1</title>\n"
        "<style>\nbody{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\n"
        "table{border-collapse:collapse;width:100%}\nth,td{border:1px solid #ccc;padding:.4em;vertical-align:top;"
        "text-align:left}\nth{background:#f3f3f3}\ntr.held td{background:#fff6d6}\n"
        "td.absent{color:#aaa}\n.rank{font-weight:bold}\n.up{color:#1a7f37}.down{color:#b42318}\n"
        ".expl{display:block;margin-top:.2em;font-size:.92em}\n.claim{display:block;color:#b00020;font-size:.9em}\n.badge{background:#e8a200;color:#fff;border-radius:3px;"
        "padding:0 "
        ".3em;font-size:.8em}\n.warn{color:#b42318}\n.fig{font-size:.9em;color:#444}\n</style></head><body>\n")
                    .arg(esc(userId));
    h += QStringLiteral("<h1>User %1</h1>\n<p>").arg(esc(userId));
    if (split.isEmpty())
        h += QStringLiteral("No split: the models saw the whole history.");
    else
        h += QStringLiteral("Split <b>%1</b>%2: %3 held-out item(s), marked <span class=\"badge\">held out</span>; the "
                            "models saw only the training part.")
                 .arg(esc(split), seed ? QStringLiteral(" (seed %1)").arg(*seed) : QString())
                 .arg(heldOutIds.size());
    h += QStringLiteral("</p>\n<table>\n<tr><th>Item</th>");
    for (const ArmResult& a : arms) {
        h += QStringLiteral("<th>%1<div class=\"fig\">%2</div>").arg(esc(a.title), esc(a.spec));
        if (!a.error.isEmpty())
            h += QStringLiteral("<div class=\"warn\">error: %1</div>").arg(esc(a.error));
        if (a.fallback)
            h += QStringLiteral("<div class=\"warn\">CF order (fallback: %1)</div>").arg(esc(a.fallbackReason));
        if (!a.defects.isEmpty()) {
            QStringList kinds;
            for (const rerank::Defect& d : a.defects)
                kinds << d.kind;
            h += QStringLiteral("<div class=\"warn\">defects: %1</div>").arg(esc(kinds.join(QStringLiteral(", "))));
        }
        if (a.metrics)
            h += QStringLiteral("<div class=\"fig\">HR@%1 %2 · NDCG@%1 %3 · recall@%1 %4</div>")
                     .arg(a.k)
                     .arg(fixed(a.metrics->hr), fixed(a.metrics->ndcg), fixed(a.metrics->recall));
        h += QStringLiteral("<div class=\"fig\">%1 ms · %2 in / %3 out tokens · cost %4%5</div></th>")
                 .arg(fixed(a.stageMs.total(), 1))
                 .arg(a.usage.inputTokens)
                 .arg(a.usage.outputTokens)
                 .arg(a.cost ? QStringLiteral("$") + QString::number(*a.cost, 'f', 5) : QStringLiteral("?"),
                     a.cacheHit ? QStringLiteral(" · cache hit") : QString());
    }
    h += QStringLiteral("</tr>\n");
    for (const AlignedRow& row : alignedRows()) {
        h += row.heldOut ? QStringLiteral("<tr class=\"held\">") : QStringLiteral("<tr>");
        h += QStringLiteral("<td>%1 <span class=\"fig\">%2</span>%3</td>")
                 .arg(esc(row.title), esc(row.itemId),
                     row.heldOut ? QStringLiteral(" <span class=\"badge\">held out</span>") : QString());
        for (size_t a = 0; a < arms.size(); ++a) {
            if (row.rowInArm[a] < 0) {
                h += QStringLiteral("<td class=\"absent\">not listed</td>");
                continue;
            }
            const CompareRow& r = arms[a].rows[static_cast<size_t>(row.rowInArm[a])];
            h += QStringLiteral("<td><span class=\"rank\">#%1</span> <span class=\"%2\">%3</span>%4<span "
                                "class=\"expl\">%5</span>%6</td>")
                     .arg(r.rank)
                     .arg(r.move() > 0      ? QStringLiteral("up")
                             : r.move() < 0 ? QStringLiteral("down")
                                            : QString(),
                         esc(moveText(r)),
                         r.filled ? QStringLiteral(" <span class=\"fig\">(from CF)</span>") : QString(),
                         esc(r.explanation),
                         r.claims.isEmpty() ? QString()
                                            : QStringLiteral(" <span class=\"claim\">unsupported: %1</span>")
                                                  .arg(esc(r.claims.join(QStringLiteral("; ")))));
        }
        h += QStringLiteral("</tr>\n");
    }
    h += QStringLiteral("</table>\n");
    if (!pairs.empty()) {
        h += QStringLiteral("<h2>Between columns</h2>\n<table>\n<tr><th>Columns</th><th>overlap@K</th><th>Kendall tau "
                            "(shared items)</th><th>RBO (p = %1)</th></tr>\n")
                 .arg(eval::kRboP);
        for (const ArmPair& p : pairs)
            h += QStringLiteral("<tr><td>%1 / %2</td><td>%3 (K = %4)</td><td>%5</td><td>%6</td></tr>\n")
                     .arg(esc(arms[static_cast<size_t>(p.a)].title), esc(arms[static_cast<size_t>(p.b)].title),
                         fixed(p.overlap, 2))
                     .arg(p.k)
                     .arg(p.kendallTau ? fixed(*p.kendallTau) : QStringLiteral("n/a (%1 shared)").arg(p.shared),
                         fixed(p.rbo));
        h += QStringLiteral("</table>\n");
    }
    h += QStringLiteral("</body></html>\n");
    return h;
}

} // namespace recwb::pipeline
