#pragma once

#include <QAbstractListModel>

#include <memory>

namespace recwb {
class Dataset;
}

namespace recwb::ui {

// The users of a dataset as combo-box choices, "ID (cold|warm, N interactions)" with the
// user's index as Qt::UserRole, each text made when the view asks for it: filling a
// QComboBox item by item took 2.9 s of the GUI thread for a million users (issue 13).
class UserChoiceModel final : public QAbstractListModel {
public:
    using QAbstractListModel::QAbstractListModel;
    void setDataset(std::shared_ptr<const Dataset> dataset, int coldThreshold);
    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    // The first warm user's row, else 0 (-1 without users).
    int firstWarmRow() const;

private:
    std::shared_ptr<const Dataset> m_dataset;
    int m_threshold = 5;
};

} // namespace recwb::ui
