#include "rerank/promptdiff.h"

#include <QJsonArray>
#include <dtl/dtl.hpp>

#include <vector>

namespace recwb::rerank {

namespace {

    using Tokens = std::vector<QString>;

    Tokens splitLines(const QString& text)
    {
        if (text.isEmpty())
            return {};
        QStringList lines = text.split(u'\n');
        if (lines.size() > 1 && lines.back().isEmpty())
            lines.removeLast(); // a final newline ends the last line, it does not start another
        return Tokens(lines.begin(), lines.end());
    }

    // Words (letters, digits, _), runs of white space, and every other character alone, so
    // "{{user.id}}" -> "{", "{", "user", ".", "id", "}", "}".
    Tokens splitWords(const QString& line)
    {
        Tokens out;
        qsizetype i = 0;
        const qsizetype n = line.size();
        auto isWord = [](QChar c) { return c.isLetterOrNumber() || c == u'_' || c.isMark(); };
        while (i < n) {
            qsizetype j = i + 1;
            if (isWord(line[i]))
                while (j < n && isWord(line[j]))
                    ++j;
            else if (line[i].isSpace())
                while (j < n && line[j].isSpace())
                    ++j;
            out.push_back(line.mid(i, j - i));
            i = j;
        }
        return out;
    }

    template <typename Fn> void walkSes(const Tokens& a, const Tokens& b, Fn&& fn)
    {
        dtl::Diff<QString, Tokens> d(a, b);
        d.compose();
        for (const auto& [elem, info] : d.getSes().getSequence())
            fn(elem, info.type);
    }

    void appendSpan(QList<DiffSpan>& spans, DiffSpan::Kind kind, const QString& text)
    {
        if (!spans.isEmpty() && spans.back().kind == kind)
            spans.back().text += text;
        else
            spans.append(DiffSpan { kind, text });
    }

    void diffWords(DiffLine& removed, DiffLine& added)
    {
        walkSes(splitWords(removed.text), splitWords(added.text), [&](const QString& word, dtl::edit_t type) {
            if (type == dtl::SES_COMMON) {
                appendSpan(removed.words, DiffSpan::Kind::Equal, word);
                appendSpan(added.words, DiffSpan::Kind::Equal, word);
            } else if (type == dtl::SES_DELETE) {
                appendSpan(removed.words, DiffSpan::Kind::Removed, word);
            } else {
                appendSpan(added.words, DiffSpan::Kind::Added, word);
            }
        });
    }

    // Inside each run of changes: the removed lines, then the added ones, the i-th removed
    // paired with the i-th added for the word diff.
    QList<DiffLine> orderAndPair(const QList<DiffLine>& lines)
    {
        QList<DiffLine> out;
        qsizetype i = 0;
        while (i < lines.size()) {
            if (lines[i].kind == DiffLine::Kind::Context) {
                out.append(lines[i++]);
                continue;
            }
            QList<DiffLine> removed;
            QList<DiffLine> added;
            for (; i < lines.size() && lines[i].kind != DiffLine::Kind::Context; ++i)
                (lines[i].kind == DiffLine::Kind::Removed ? removed : added).append(lines[i]);
            for (qsizetype k = 0; k < std::min(removed.size(), added.size()); ++k)
                diffWords(removed[k], added[k]);
            out += removed;
            out += added;
        }
        return out;
    }

    QString kindName(DiffLine::Kind k)
    {
        switch (k) {
        case DiffLine::Kind::Removed:
            return QStringLiteral("removed");
        case DiffLine::Kind::Added:
            return QStringLiteral("added");
        case DiffLine::Kind::Context:
            break;
        }
        return QStringLiteral("context");
    }

    QString spanKindName(DiffSpan::Kind k)
    {
        switch (k) {
        case DiffSpan::Kind::Removed:
            return QStringLiteral("removed");
        case DiffSpan::Kind::Added:
            return QStringLiteral("added");
        case DiffSpan::Kind::Equal:
            break;
        }
        return QStringLiteral("equal");
    }

    QString hunkHeader(const DiffHunk& h)
    {
        return QStringLiteral("@@ -%1,%2 +%3,%4 @@").arg(h.oldStart).arg(h.oldCount).arg(h.newStart).arg(h.newCount);
    }

} // namespace

PromptDiff diffTemplates(
    const QString& oldText, const QString& newText, const QString& oldRef, const QString& newRef, int context)
{
    PromptDiff diff;
    diff.oldRef = oldRef;
    diff.newRef = newRef;
    QList<DiffLine> all;
    int oldLine = 0;
    int newLine = 0;
    walkSes(splitLines(oldText), splitLines(newText), [&](const QString& line, dtl::edit_t type) {
        DiffLine l;
        l.text = line;
        if (type == dtl::SES_COMMON) {
            l.oldLine = ++oldLine;
            l.newLine = ++newLine;
        } else if (type == dtl::SES_DELETE) {
            l.kind = DiffLine::Kind::Removed;
            l.oldLine = ++oldLine;
            ++diff.removed;
        } else {
            l.kind = DiffLine::Kind::Added;
            l.newLine = ++newLine;
            ++diff.added;
        }
        all.append(l);
    });
    all = orderAndPair(all);

    // Hunks: every changed line with `context` lines around it; overlapping ranges merge.
    context = std::max(0, context);
    qsizetype i = 0;
    while (i < all.size()) {
        if (all[i].kind == DiffLine::Kind::Context) {
            ++i;
            continue;
        }
        qsizetype begin = std::max<qsizetype>(0, i - context);
        qsizetype end = i; // one past the last changed line seen
        qsizetype j = i;
        while (j < all.size()) {
            if (all[j].kind != DiffLine::Kind::Context) {
                end = j + 1;
                ++j;
            } else if (j - end < 2 * context) {
                ++j;
            } else {
                break;
            }
        }
        end = std::min(all.size(), end + context);
        DiffHunk h;
        for (qsizetype k = begin; k < end; ++k) {
            const DiffLine& l = all[k];
            if (l.kind != DiffLine::Kind::Added) {
                if (h.oldStart == 0)
                    h.oldStart = l.oldLine;
                ++h.oldCount;
            }
            if (l.kind != DiffLine::Kind::Removed) {
                if (h.newStart == 0)
                    h.newStart = l.newLine;
                ++h.newCount;
            }
            h.lines.append(l);
        }
        // An empty side starts at the line before it (diff -U convention), 0 at the top.
        for (qsizetype k = begin - 1; k >= 0 && (h.oldStart == 0 || h.newStart == 0); --k) {
            if (h.oldStart == 0 && all[k].oldLine > 0)
                h.oldStart = all[k].oldLine;
            if (h.newStart == 0 && all[k].newLine > 0)
                h.newStart = all[k].newLine;
        }
        diff.hunks.append(h);
        i = end;
    }
    return diff;
}

QString diffText(const PromptDiff& diff)
{
    if (diff.identical())
        return {};
    QString out = QStringLiteral("--- %1\n+++ %2\n")
                      .arg(diff.oldRef.isEmpty() ? QStringLiteral("old") : diff.oldRef,
                          diff.newRef.isEmpty() ? QStringLiteral("new") : diff.newRef);
    for (const DiffHunk& h : diff.hunks) {
        out += hunkHeader(h) + u'\n';
        for (const DiffLine& l : h.lines) {
            const QChar mark = l.kind == DiffLine::Kind::Context ? u' '
                : l.kind == DiffLine::Kind::Removed              ? u'-'
                                                                 : u'+';
            out += mark;
            if (l.words.isEmpty()) {
                out += l.text;
            } else {
                for (const DiffSpan& s : l.words) {
                    if (s.kind == DiffSpan::Kind::Removed)
                        out += QStringLiteral("[-") + s.text + QStringLiteral("-]");
                    else if (s.kind == DiffSpan::Kind::Added)
                        out += QStringLiteral("{+") + s.text + QStringLiteral("+}");
                    else
                        out += s.text;
                }
            }
            out += u'\n';
        }
    }
    return out;
}

QString diffHtml(const PromptDiff& diff)
{
    QString out = QStringLiteral("<table width=\"100%\" cellspacing=\"0\" cellpadding=\"1\" style=\"font-family: "
                                 "monospace; white-space: pre-wrap;\">");
    if (diff.identical())
        return out + QStringLiteral("<tr><td>The two versions are identical.</td></tr></table>");
    auto cell = [](const QString& s) { return s.toHtmlEscaped(); }; // pre-wrap keeps spaces and wraps long lines
    for (const DiffHunk& h : diff.hunks) {
        out += QStringLiteral("<tr><td colspan=\"3\" style=\"color:#57606a; background:#ddf4ff;\">%1</td></tr>")
                   .arg(hunkHeader(h));
        for (const DiffLine& l : h.lines) {
            const bool removed = l.kind == DiffLine::Kind::Removed;
            const bool added = l.kind == DiffLine::Kind::Added;
            const QString bg = removed ? QStringLiteral(" background:#ffebe9;")
                : added                ? QStringLiteral(" background:#e6ffec;")
                                       : QString();
            QString text;
            if (l.words.isEmpty()) {
                text = cell(l.text);
            } else {
                for (const DiffSpan& s : l.words) {
                    if (s.kind == DiffSpan::Kind::Removed)
                        text += QStringLiteral("<del style=\"background:#ff8182;\">%1</del>").arg(cell(s.text));
                    else if (s.kind == DiffSpan::Kind::Added)
                        text += QStringLiteral("<ins style=\"background:#4ac26b;\">%1</ins>").arg(cell(s.text));
                    else
                        text += cell(s.text);
                }
            }
            out += QStringLiteral("<tr><td style=\"color:#8c959f;\">%1</td><td style=\"color:#8c959f;\">%2</td>"
                                  "<td style=\"%3\">%4%5</td></tr>")
                       .arg(l.oldLine > 0 ? QString::number(l.oldLine) : QString(),
                           l.newLine > 0 ? QString::number(l.newLine) : QString(), bg,
                           removed     ? QStringLiteral("-")
                               : added ? QStringLiteral("+")
                                       : QStringLiteral("&nbsp;"),
                           text);
        }
    }
    return out + QStringLiteral("</table>");
}

QJsonObject diffJson(const PromptDiff& diff)
{
    QJsonArray hunks;
    for (const DiffHunk& h : diff.hunks) {
        QJsonArray lines;
        for (const DiffLine& l : h.lines) {
            QJsonObject o { { QStringLiteral("kind"), kindName(l.kind) }, { QStringLiteral("text"), l.text } };
            if (l.oldLine > 0)
                o.insert(QStringLiteral("old_line"), l.oldLine);
            if (l.newLine > 0)
                o.insert(QStringLiteral("new_line"), l.newLine);
            if (!l.words.isEmpty()) {
                QJsonArray words;
                for (const DiffSpan& s : l.words)
                    words.append(QJsonObject {
                        { QStringLiteral("kind"), spanKindName(s.kind) }, { QStringLiteral("text"), s.text } });
                o.insert(QStringLiteral("words"), words);
            }
            lines.append(o);
        }
        hunks.append(QJsonObject { { QStringLiteral("old_start"), h.oldStart },
            { QStringLiteral("old_count"), h.oldCount }, { QStringLiteral("new_start"), h.newStart },
            { QStringLiteral("new_count"), h.newCount }, { QStringLiteral("lines"), lines } });
    }
    return QJsonObject { { QStringLiteral("old"), diff.oldRef }, { QStringLiteral("new"), diff.newRef },
        { QStringLiteral("added"), diff.added }, { QStringLiteral("removed"), diff.removed },
        { QStringLiteral("identical"), diff.identical() }, { QStringLiteral("hunks"), hunks } };
}

} // namespace recwb::rerank
