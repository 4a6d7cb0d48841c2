#pragma once

#include <QJsonObject>
#include <QList>
#include <QString>

// A line diff between two template texts (libdtl), in unified-style hunks, with the
// changed words of each changed line pair marked (a second dtl diff over word tokens).
// Plain data and pure functions: thread-safe.
namespace recwb::rerank {

struct DiffSpan {
    enum class Kind { Equal, Removed, Added };
    Kind kind = Kind::Equal;
    QString text;
};

struct DiffLine {
    enum class Kind { Context, Removed, Added };
    Kind kind = Kind::Context;
    int oldLine = 0; // 1-based; 0 for an added line
    int newLine = 0; // 1-based; 0 for a removed line
    QString text;
    // For a line paired with its counterpart (the i-th removed and the i-th added line of one
    // change): the line cut into spans, Equal and Removed (on a removed line) or Added (on an
    // added line). Empty for context lines and for unpaired lines (all of them changed).
    QList<DiffSpan> words;
};

struct DiffHunk {
    int oldStart = 0; // 1-based first line (as in "@@ -oldStart,oldCount +newStart,newCount @@")
    int oldCount = 0;
    int newStart = 0;
    int newCount = 0;
    QList<DiffLine> lines;
};

struct PromptDiff {
    QString oldRef;
    QString newRef;
    QList<DiffHunk> hunks;
    int added = 0; // lines
    int removed = 0;
    bool identical() const { return hunks.isEmpty(); }
};

// `context` unchanged lines around each change (as diff -U).
PromptDiff diffTemplates(const QString& oldText, const QString& newText, const QString& oldRef = {},
    const QString& newRef = {}, int context = 3);

// Unified text: "--- old", "+++ new", "@@ ... @@", then " ", "-", "+" lines; on a paired
// line the changed words are marked [-removed-] and {+added+}.
QString diffText(const PromptDiff& diff);
// A self-contained HTML fragment (a <table>), changed words in <del>/<ins>.
QString diffHtml(const PromptDiff& diff);
// {"old","new","added","removed","hunks":[{old_start,old_count,new_start,new_count,
//  "lines":[{"kind":"context|removed|added","old_line","new_line","text","words":[{kind,text}]}]}]}
QJsonObject diffJson(const PromptDiff& diff);

} // namespace recwb::rerank
