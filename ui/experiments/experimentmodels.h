#pragma once

#include "common/tablemodel.h"
#include "pipeline/costprojection.h"
#include "pipeline/experiment.h"

#include <vector>

namespace recwb::ui {

// The tables of the Experiments tab. Each is reset per result snapshot (a finished or
// reopened experiment); none is edited in place.

// One row per arm x cohort: users, HR/recall/NDCG/MRR/coverage at every K, ILD and
// novelty at the largest K, LLM/fallback/routed-CF shares, tokens, cost, latency.
class ExperimentFiguresModel final : public TableModel {
    Q_OBJECT

public:
    using TableModel::TableModel;
    void setResult(const pipeline::ExperimentResult& result);

protected:
    int rows() const override { return static_cast<int>(m_figures.size()); }
    int columns() const override;
    QString headerText(int column) const override;
    bool isNumeric(int column) const override { return column >= 2; }
    QVariant cell(int row, int column, int role) const override;

private:
    std::vector<pipeline::ArmFigures> m_figures;
    std::vector<int> m_ks;
};

// One row per paired comparison: B against A on the experiment's cohort.
class ExperimentPairsModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Arms, Metric, Users, MeanA, MeanB, Diff, CiLow, CiHigh, PValue, Verdict, NumColumns };
    using TableModel::TableModel;
    void setResult(const pipeline::ExperimentResult& result);
    const pipeline::ArmComparison& comparison(int row) const { return m_rows[static_cast<size_t>(row)]; }

protected:
    int rows() const override { return static_cast<int>(m_rows.size()); }
    int columns() const override { return NumColumns; }
    QString headerText(int column) const override;
    QString headerToolTip(int column) const override;
    bool isNumeric(int column) const override { return column >= Users && column < Verdict; }
    QVariant cell(int row, int column, int role) const override;

private:
    std::vector<pipeline::ArmComparison> m_rows;
};

// One row per cohort user: the user, cold / long-tail flags, train interactions, then
// every arm's metric (repeat 0) so the users where arms differ can be sorted to the top.
class ExperimentUsersModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { User, Cold, LongTail, Train, NumFixed };
    using TableModel::TableModel;
    // metric: "ndcg@10" etc., a K of the experiment.
    void setResult(const pipeline::ExperimentResult& result, const QString& metric);
    QString userId(int row) const { return m_users.value(row).id; }
    QStringView searchText(int row) const override;

protected:
    int rows() const override { return static_cast<int>(m_users.size()); }
    int columns() const override { return NumFixed + static_cast<int>(m_arms.size()); }
    QString headerText(int column) const override;
    bool isNumeric(int column) const override { return column >= Train; }
    QVariant cell(int row, int column, int role) const override;

private:
    struct Row {
        QString id;
        QString folded;
        bool cold = false;
        bool longTail = false;
        int train = 0;
        std::vector<double> values; // per arm; NaN when the arm has no row for the user
    };
    QList<Row> m_users;
    QStringList m_arms;
    QString m_metric;
};

// The stored experiments of the workspace, newest first.
class ExperimentListModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Id, Name, Status, Split, Cohort, Arms, Users, Rows, Created, NumColumns };
    using TableModel::TableModel;
    void setExperiments(std::vector<pipeline::experimentstore::Info> list);
    const pipeline::experimentstore::Info& info(int row) const { return m_list[static_cast<size_t>(row)]; }

protected:
    int rows() const override { return static_cast<int>(m_list.size()); }
    int columns() const override { return NumColumns; }
    QString headerText(int column) const override;
    bool isNumeric(int column) const override { return column == Id || (column >= Arms && column <= Rows); }
    QVariant cell(int row, int column, int role) const override;

private:
    std::vector<pipeline::experimentstore::Info> m_list;
};

// The cost at scale: users a day x scenario, calls, cost per call, day and month.
class ProjectionModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { UsersPerDay, Scenario, LlmShare, CallsPerDay, PerCall, PerDay, PerMonth, NumColumns };
    using TableModel::TableModel;
    void setProjection(const pipeline::CostProjection& projection);

protected:
    int rows() const override { return static_cast<int>(m_rows.size()); }
    int columns() const override { return NumColumns; }
    QString headerText(int column) const override;
    bool isNumeric(int column) const override { return column != Scenario; }
    QVariant cell(int row, int column, int role) const override;

private:
    QList<pipeline::ProjectionRow> m_rows;
};

} // namespace recwb::ui
