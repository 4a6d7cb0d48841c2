#pragma once

#include <QStyledItemDelegate>

namespace recwb::ui {

// Draws the users' status column: a "cold" pill for cold-start users (ColdRole), plain
// muted "warm" text otherwise.
class ColdBadgeDelegate final : public QStyledItemDelegate {
    Q_OBJECT

public:
    using QStyledItemDelegate::QStyledItemDelegate;

    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const final;
    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const final;
};

} // namespace recwb::ui
