#include "prompts/promptversionsmodel.h"

#include <QDateTime>
#include <QFont>
#include <algorithm>

namespace recwb::ui {

void PromptVersionsModel::setRows(QList<Row> rows)
{
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        return a.version.name != b.version.name ? a.version.name < b.version.name
                                                : a.version.version > b.version.version;
    });
    beginResetModel();
    m_rows = std::move(rows);
    endResetModel();
}

const PromptVersionsModel::Row* PromptVersionsModel::rowAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? &m_rows[row] : nullptr;
}

int PromptVersionsModel::findRow(const QString& name, int version) const
{
    for (qsizetype i = 0; i < m_rows.size(); ++i)
        if (m_rows[i].version.name == name && m_rows[i].version.version == version)
            return static_cast<int>(i);
    return -1;
}

QList<const PromptVersionsModel::Row*> PromptVersionsModel::versionsOf(const QString& name) const
{
    QList<const Row*> out;
    for (const Row& r : m_rows)
        if (r.version.name == name)
            out.prepend(&r);
    return out;
}

QString PromptVersionsModel::headerText(int column) const
{
    switch (static_cast<Column>(column)) {
    case Name:
        return tr("Template");
    case Version:
        return tr("Version");
    case Parent:
        return tr("From");
    case Labels:
        return tr("Labels");
    case Created:
        return tr("Saved");
    case Note:
        return tr("Note");
    case NumColumns:
        break;
    }
    return {};
}

QString PromptVersionsModel::headerToolTip(int column) const
{
    switch (static_cast<Column>(column)) {
    case Parent:
        return tr("The version this one was edited from");
    case Labels:
        return tr("Labels (production, staging, …) point at one version; rerank --prompt NAME@LABEL uses it");
    case Created:
        return tr("When the version was saved (local time)");
    default:
        return {};
    }
}

QVariant PromptVersionsModel::cell(int row, int column, int role) const
{
    const Row& r = m_rows[row];
    const auto& v = r.version;
    switch (role) {
    case Qt::DisplayRole:
        switch (static_cast<Column>(column)) {
        case Name:
            return r.hasDraft ? tr("%1 (draft)").arg(v.name) : v.name;
        case Version:
            return v.version > 0 ? QVariant(v.version) : QVariant(tr("draft"));
        case Parent:
            return v.parentVersion ? QVariant(*v.parentVersion) : QVariant(QStringLiteral("–"));
        case Labels:
            return r.labels.join(QStringLiteral(", "));
        case Created:
            return QDateTime::fromSecsSinceEpoch(v.createdAt).toString(QStringLiteral("yyyy-MM-dd HH:mm"));
        case Note:
            return v.note;
        case NumColumns:
            break;
        }
        return {};
    case SortRole:
        switch (static_cast<Column>(column)) {
        case Version:
            return v.version;
        case Parent:
            return v.parentVersion.value_or(0);
        case Created:
            return v.createdAt;
        default:
            return cell(row, column, Qt::DisplayRole);
        }
    case Qt::ToolTipRole:
        if (column == Name && r.hasDraft)
            return tr("An autosaved draft of %1 was not saved as a version").arg(v.name);
        if (column == Note)
            return v.note;
        return {};
    case Qt::FontRole:
        if (column == Labels && !r.labels.isEmpty()) {
            QFont f;
            f.setBold(true);
            return f;
        }
        return {};
    default:
        return {};
    }
}

} // namespace recwb::ui
