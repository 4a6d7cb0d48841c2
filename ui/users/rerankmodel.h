#pragma once

#include "common/tablemodel.h"

#include "rerank/answer.h"

#include <QStringList>
#include <memory>

namespace recwb {
class Dataset;
}

namespace recwb::ui {

// A user's reranked list: the final order with each pick's CF rank, the move against it,
// the reranker's score and its explanation. Reset as a whole for each answer.
class RerankModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Rank, Title, CfRank, Move, Score, Explanation, NumColumns };

    using TableModel::TableModel;
    ~RerankModel() override;

    void setDataset(std::shared_ptr<const Dataset> dataset);
    // items: the final list (rank order); titles: per entry (empty = the dataset's title).
    void setRows(QList<rerank::RankedItem> items, QStringList titles);
    void clear();
    const QList<rerank::RankedItem>& items() const { return m_items; }
    QString title(int row) const;

protected:
    int rows() const final { return static_cast<int>(m_items.size()); }
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    QString headerToolTip(int column) const final;
    bool isNumeric(int column) const final { return column == Rank || column == CfRank || column == Move || column == Score; }
    QVariant cell(int row, int column, int role) const final;

private:
    std::shared_ptr<const Dataset> m_dataset;
    QList<rerank::RankedItem> m_items;
    QStringList m_titles;
};

} // namespace recwb::ui
