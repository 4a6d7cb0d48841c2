#include "dialogs/endpointsmodel.h"

#include <QFont>

namespace recwb::ui {

void EndpointsModel::setEndpoints(const QList<rerank::EndpointProfile>& endpoints, const QString& defaultName)
{
    beginResetModel();
    m_endpoints = endpoints;
    m_default = defaultName;
    endResetModel();
}

int EndpointsModel::rowOf(const QString& name) const
{
    for (int r = 0; r < m_endpoints.size(); ++r)
        if (m_endpoints[r].name == name)
            return r;
    return -1;
}

QString EndpointsModel::keySourceText(const rerank::EndpointProfile& e)
{
    if (e.kind == rerank::ProviderKind::Offline)
        return tr("no key needed");
    if (!e.keyEnv.isEmpty())
        return tr("from $%1").arg(e.keyEnv);
    if (!e.keychainEntry.isEmpty())
        return tr("stored in keychain");
    return tr("no key");
}

QString EndpointsModel::headerText(int column) const
{
    switch (column) {
    case Name:
        return tr("Name");
    case Kind:
        return tr("Kind");
    case Model:
        return tr("Model");
    case BaseUrl:
        return tr("Base URL");
    case Key:
        return tr("Key");
    default:
        return {};
    }
}

QVariant EndpointsModel::cell(int row, int column, int role) const
{
    const rerank::EndpointProfile& e = m_endpoints[row];
    const bool isDefault = e.name == m_default;
    switch (role) {
    case Qt::DisplayRole:
    case SortRole:
        switch (column) {
        case Name:
            return isDefault && role == Qt::DisplayRole ? tr("%1 (default)").arg(e.name) : e.name;
        case Kind:
            return rerank::providerKindName(e.kind);
        case Model:
            return e.model;
        case BaseUrl:
            return e.baseUrl;
        case Key:
            return keySourceText(e);
        default:
            return {};
        }
    case SourceRowRole:
        return row;
    case Qt::FontRole:
        if (isDefault && column == Name) {
            QFont bold;
            bold.setBold(true);
            return bold;
        }
        return {};
    case Qt::ToolTipRole:
        if (column == Name && isDefault)
            return tr("The default endpoint: reranks use it unless another is chosen");
        return {};
    default:
        return {};
    }
}

} // namespace recwb::ui
