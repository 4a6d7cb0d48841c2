#pragma once

#include "common/tablemodel.h"

#include "review/review.h"

#include <QHash>
#include <QSet>

namespace recwb::ui {

// One queued user's reranked list as the reviewer judges it: rank, title, CF rank and move,
// the candidate's source, whether the user went on to use it (simulated users), the
// explanation with its unsupported claims, and the reviewer's verdict and note.
class ReviewItemsModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Rank, Title, CfRank, Move, Source, UsedLater, Explanation, Claims, Verdict, Note, NumColumns };

    using TableModel::TableModel;

    // verdicts: item id -> (verdict, note) of the current reviewer.
    void setUser(const review::QueueUser* user, QHash<QString, std::pair<review::Verdict, QString>> verdicts);
    void setVerdict(const QString& itemId, review::Verdict verdict);
    void setNote(const QString& itemId, const QString& note);
    QString itemId(int row) const;
    QString explanation(int row) const;
    QStringList claims(int row) const;
    QString title(int row) const;
    review::Verdict verdict(int row) const;
    QString note(int row) const;

protected:
    int rows() const final { return static_cast<int>(m_items.size()); }
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    QString headerToolTip(int column) const final;
    bool isNumeric(int column) const final { return column == Rank || column == CfRank || column == Move; }
    QVariant cell(int row, int column, int role) const final;

private:
    struct Row {
        QString itemId;
        QString title;
        int rank = 0;
        int cfRank = 0;
        QString source;
        bool usedLater = false;
        QString explanation;
        QStringList claims;
    };
    void emitRowChanged(const QString& itemId);
    std::vector<Row> m_items;
    QHash<QString, std::pair<review::Verdict, QString>> m_verdicts;
};

// The summary of a queue: good share by source, cold@n, endpoint, prompt and CF move.
class ReviewSummaryModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Dimension, Value, Good, Bad, Unsure, GoodShare, NumColumns };

    using TableModel::TableModel;
    void setRows(std::vector<review::SummaryRow> rows);

protected:
    int rows() const final { return static_cast<int>(m_rows.size()); }
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    bool isNumeric(int column) const final { return column >= Good; }
    QVariant cell(int row, int column, int role) const final;

private:
    std::vector<review::SummaryRow> m_rows;
};

// Agreement of every pair of reviewers (Cohen's kappa).
class ReviewAgreementModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { A, B, Users, Items, Observed, Kappa, NumColumns };

    using TableModel::TableModel;
    void setRows(std::vector<review::Agreement> rows);

protected:
    int rows() const final { return static_cast<int>(m_rows.size()); }
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    QString headerToolTip(int column) const final;
    bool isNumeric(int column) const final { return column >= Users; }
    QVariant cell(int row, int column, int role) const final;

private:
    std::vector<review::Agreement> m_rows;
};

} // namespace recwb::ui
