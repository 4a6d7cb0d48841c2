#pragma once

#include <QApplication>
#include <QElapsedTimer>
#include <QMessageBox>
#include <QPushButton>
#include <QTimer>
#include <memory>

namespace recwb::test {

struct DialogAnswer {
    bool seen = false;
    QString text; // the box's text and informative text
};

// Answers the modal QMessageBox named `name` by clicking its button named `button` as soon as
// it is shown (a 20 ms timer, for up to timeoutMs). Call before the action that opens it; the
// answer is filled when the box was seen.
inline std::shared_ptr<DialogAnswer> answerDialog(const QString& name, const QString& button, int timeoutMs = 10000)
{
    auto answer = std::make_shared<DialogAnswer>();
    auto* timer = new QTimer(qApp);
    auto clock = std::make_shared<QElapsedTimer>();
    clock->start();
    timer->setInterval(20);
    QObject::connect(timer, &QTimer::timeout, timer, [=] {
        for (QWidget* w : QApplication::topLevelWidgets()) {
            auto* box = qobject_cast<QMessageBox*>(w);
            if (!box || box->objectName() != name || !box->isVisible())
                continue;
            answer->seen = true;
            answer->text = box->text() + u'\n' + box->informativeText();
            timer->stop();
            timer->deleteLater();
            if (auto* b = box->findChild<QPushButton*>(button))
                b->click();
            return;
        }
        if (clock->elapsed() > timeoutMs) {
            timer->stop();
            timer->deleteLater();
        }
    });
    timer->start();
    return answer;
}

} // namespace recwb::test
