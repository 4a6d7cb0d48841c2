#include "common/ceilingconfirm.h"

#include "rerank/llmtypes.h"
#include "rerank/prices.h"
#include "util/error.h"

#include <QLocale>
#include <QMessageBox>
#include <QPushButton>

namespace recwb::ui {

pipeline::RunProjection projectCalls(
    const rerank::EndpointProfile& endpoint, const rerank::PriceTable* prices, qint64 jobs, int candidates)
{
    const rerank::PriceTable table = prices ? *prices : rerank::PriceTable::builtin();
    return pipeline::projectRun({ endpoint }, table, jobs, candidates, std::nullopt);
}

void addProjection(pipeline::RunProjection& total, const pipeline::RunProjection& more)
{
    const bool knownBefore = total.calls == 0 || total.usd.has_value();
    total.calls += more.calls;
    if (more.calls == 0)
        return;
    if (knownBefore && more.usd)
        total.usd = total.usd.value_or(0.0) + *more.usd;
    else
        total.usd.reset();
}

bool confirmCeiling(QWidget* parent, const pipeline::RunProjection& projection, const QString& action)
{
    pipeline::RunCeiling ceiling;
    try {
        ceiling = pipeline::RunCeiling::fromEnvironment();
    } catch (const Error& e) {
        QMessageBox box(QMessageBox::Warning, QObject::tr("Confirmation ceiling"),
            QObject::tr("Nothing was sent: the confirmation ceiling is malformed: %1").arg(e.message()),
            QMessageBox::Ok, parent);
        box.setObjectName(QStringLiteral("ceilingError"));
        box.exec();
        return false;
    }
    const QString over = projection.exceeds(ceiling);
    if (over.isEmpty())
        return true;
    const QLocale locale;
    const QString cost = projection.usd ? QStringLiteral("$%1").arg(locale.toString(*projection.usd, 'f', 2))
                                        : QObject::tr("unknown (no price for an endpoint)");
    QMessageBox box(QMessageBox::Warning, QObject::tr("Above the confirmation ceiling"),
        QObject::tr("%1 may make %2 call(s), costing up to %3.").arg(action).arg(projection.calls).arg(cost),
        QMessageBox::Cancel, parent);
    box.setObjectName(QStringLiteral("ceilingConfirm"));
    box.setInformativeText(QObject::tr("That is %1 (ceiling: %2 calls, $%3; RECWB_CEILING_CALLS and "
                                       "RECWB_CEILING_USD change it). Nothing is sent unless you press Send.")
                               .arg(over)
                               .arg(ceiling.calls)
                               .arg(locale.toString(ceiling.usd, 'f', 2)));
    QPushButton* send = box.addButton(QObject::tr("Send"), QMessageBox::AcceptRole);
    send->setObjectName(QStringLiteral("ceilingSend"));
    box.button(QMessageBox::Cancel)->setObjectName(QStringLiteral("ceilingCancel"));
    box.setDefaultButton(QMessageBox::Cancel);
    box.exec();
    return box.clickedButton() == send;
}

} // namespace recwb::ui
