#pragma once

#include "common/tablemodel.h"

#include <array>
#include <memory>
#include <vector>

namespace recwb {
class Dataset;
}

namespace recwb::ui {

// One candidate: CF scores for warm users; the cold-start blend (source = the largest
// weighted share, parts = every source's weighted share) for cold users.
struct CandidateRow {
    int32_t item = -1;
    float score = 0;
    QString source;
    std::vector<std::pair<QString, float>> parts; // cold-start only
};

// A user's ranked candidates. Reset as a whole for each user / model / answer.
class CandidatesModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Rank, Title, Score, Categories, Source, NumColumns };

    using TableModel::TableModel;
    ~CandidatesModel() override;

    void setDataset(std::shared_ptr<const Dataset> dataset);
    void setRows(std::vector<CandidateRow> rows);
    void clear();
    const std::vector<CandidateRow>& candidates() const { return m_rows; }

protected:
    int rows() const final { return static_cast<int>(m_rows.size()); }
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    QString headerToolTip(int column) const final;
    bool isNumeric(int column) const final { return column == Rank || column == Score; }
    QVariant cell(int row, int column, int role) const final;

private:
    std::shared_ptr<const Dataset> m_dataset;
    std::vector<CandidateRow> m_rows;
};

} // namespace recwb::ui
