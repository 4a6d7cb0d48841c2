#pragma once

#include "common/tablemodel.h"

#include <memory>
#include <vector>

namespace recwb::eval {
struct EvalResult;
}

namespace recwb::ui {

// One row per evaluated model of a run, appended as each model finishes (rows inserted,
// never a reset, so a selection survives). Shows every metric at one K for one cohort.
class EvalResultsModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Model, HR, Recall, NDCG, MRR, Coverage, ILD, Novelty, Users, FitSeconds, EvalSeconds, NumColumns };
    static constexpr int kAllUsers = -1;

    using TableModel::TableModel;
    ~EvalResultsModel() override;

    void clear();
    void append(std::shared_ptr<const eval::EvalResult> result);
    const std::vector<std::shared_ptr<const eval::EvalResult>>& results() const { return m_results; }
    // The row of a model, or -1.
    int rowOf(const QString& model) const;

    void setK(int k);
    int k() const { return m_k; }
    // An index into EvalResult::cohorts, or kAllUsers.
    void setCohort(int cohort);
    int cohort() const { return m_cohort; }

    // The value a metric column shows for a row (NaN when the column has none).
    double value(int row, int column) const;

protected:
    int rows() const final { return static_cast<int>(m_results.size()); }
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    QString headerToolTip(int column) const final;
    bool isNumeric(int column) const final { return column != Model; }
    QVariant cell(int row, int column, int role) const final;

private:
    void refreshAll();

    std::vector<std::shared_ptr<const eval::EvalResult>> m_results;
    int m_k = 10;
    int m_cohort = kAllUsers;
};

} // namespace recwb::ui
