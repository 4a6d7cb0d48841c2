#pragma once

#include "common/tablemodel.h"
#include "rerank/llmtypes.h"

#include <QList>

namespace recwb::ui {

// The workspace's endpoint profiles, one row each, reset per snapshot (the dialog reloads
// after every write). Shows where the key comes from, never a key.
class EndpointsModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Name, Kind, Model, BaseUrl, Key, NumColumns };

    using TableModel::TableModel;

    void setEndpoints(const QList<rerank::EndpointProfile>& endpoints, const QString& defaultName);
    const QList<rerank::EndpointProfile>& endpoints() const { return m_endpoints; }
    const QString& defaultName() const { return m_default; }
    int rowOf(const QString& name) const; // -1 when absent

    // "from $VAR", "stored in keychain", "no key"
    static QString keySourceText(const rerank::EndpointProfile& e);

protected:
    int rows() const final { return static_cast<int>(m_endpoints.size()); }
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    QVariant cell(int row, int column, int role) const final;

private:
    QList<rerank::EndpointProfile> m_endpoints;
    QString m_default;
};

} // namespace recwb::ui
