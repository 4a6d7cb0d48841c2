#pragma once

#include "catalog/catalogmodel.h"

#include <QWidget>
#include <memory>

class QLabel;
class QLineEdit;
class QSplitter;
class QTableView;
class QTextBrowser;

namespace recwb {
class Dataset;
}

namespace recwb::ui {

class CatalogModel;
class SnapshotTableProxy;

// The catalog: a filterable, sortable item table and the selected item's details.
class CatalogTab final : public QWidget {
    Q_OBJECT

public:
    explicit CatalogTab(QWidget* parent = nullptr);
    ~CatalogTab() override;

    // texts: CatalogModel::textsOf(*dataset) built on a worker, or null to build them here.
    void setDataset(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const CatalogModel::Texts> texts = nullptr);

    QLineEdit* filterEdit() const { return m_filter; }
    QTableView* view() const { return m_view; }
    CatalogModel* model() const { return m_model; }
    SnapshotTableProxy* proxy() const { return m_proxy; }
    QSplitter* splitter() const { return m_splitter; }
    QTextBrowser* detail() const { return m_detail; }

private:
    void updateCount();
    void showItem(int item);

    std::shared_ptr<const Dataset> m_dataset;
    CatalogModel* m_model;
    SnapshotTableProxy* m_proxy;
    QLineEdit* m_filter;
    QLabel* m_count;
    QTableView* m_view;
    QSplitter* m_splitter;
    QTextBrowser* m_detail;
};

} // namespace recwb::ui
