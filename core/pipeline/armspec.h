#pragma once

#include <QString>
#include <optional>

namespace recwb::pipeline {

// One column of a side-by-side comparison, named by one string of comma-separated
// key=value pairs, the same in the GUI and the CLI, and the grammar experiment files will
// use (docs/COMPARE.md):
//   cf=NAME         a CF algorithm (pop, itemknn, ease, ials, bpr), a snapshot name or
//                   id, "coldstart" (the cold-start blend) or "pop" (required); or
//                   "run:ID": a stored rerank run's result for the user (no rerank=/prompt=)
//   rerank=R        none (the CF order), offline, or an endpoint name (default none)
//   prompt=REF      NAME, NAME@VERSION or NAME@LABEL (default listwise)
//   k=N             list length, 1..200 (default 10)
//   candidates=N    candidates given to the reranker, >= k (default 50)
//   label=TEXT      the column title (default: the spec itself)
// Keys may come in any order; each at most once. Values cannot contain ',' or '='.
struct ArmSpec {
    QString cf;
    QString rerank = QStringLiteral("none");
    QString prompt; // empty = the default template
    int k = 10;
    int candidates = 50;
    QString label;

    // Throws Error naming the bad key or value and what is accepted.
    static ArmSpec parse(const QString& text);
    // The canonical spec: cf first, then only the keys that differ from the defaults;
    // parse(toString()) == *this.
    QString toString() const;
    // The label, else the canonical spec.
    QString title() const;
    bool isColdStart() const { return cf == u"coldstart"; }
    bool reranks() const { return rerank != u"none"; }
    bool isOffline() const { return rerank == u"offline"; }
    // cf=run:ID: the stored run's id; nullopt for a live arm.
    std::optional<qint64> storedRun() const;
    bool operator==(const ArmSpec&) const = default;
};

} // namespace recwb::pipeline
