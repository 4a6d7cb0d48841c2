#include "users/coldbadgedelegate.h"

#include "common/tablemodel.h"

#include <QApplication>
#include <QPainter>

namespace recwb::ui {

void ColdBadgeDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const
{
    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    const QString text = opt.text;
    opt.text.clear();
    const QStyle* style = opt.widget ? opt.widget->style() : QApplication::style();
    style->drawControl(QStyle::CE_ItemViewItem, &opt, painter, opt.widget);

    painter->save();
    painter->setRenderHint(QPainter::Antialiasing);
    QFont font = opt.font;
    const QRect area = opt.rect.adjusted(6, 0, -4, 0);
    if (index.data(ColdRole).toBool()) {
        font.setBold(true);
        font.setPointSizeF(font.pointSizeF() * 0.9);
        const QFontMetrics fm(font);
        const int height = std::min(area.height() - 4, fm.height() + 4);
        const int width = fm.horizontalAdvance(text) + 16;
        const QRect pill(area.left(), area.center().y() - height / 2 + 1, width, height);
        painter->setPen(Qt::NoPen);
        painter->setBrush(QColor(0xdb, 0xea, 0xfe));
        painter->drawRoundedRect(pill, height / 2.0, height / 2.0);
        painter->setPen(QColor(0x1e, 0x40, 0xaf));
        painter->setFont(font);
        painter->drawText(pill, Qt::AlignCenter, text);
    } else {
        const bool selected = opt.state & QStyle::State_Selected;
        painter->setPen(opt.palette.color(QPalette::Disabled, selected ? QPalette::HighlightedText : QPalette::Text));
        painter->setFont(font);
        painter->drawText(area, Qt::AlignLeft | Qt::AlignVCenter, text);
    }
    painter->restore();
}

QSize ColdBadgeDelegate::sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const
{
    QSize size = QStyledItemDelegate::sizeHint(option, index);
    size.rwidth() += 24;
    return size;
}

} // namespace recwb::ui
