#include "screenshots.h"

#include "users/candidatespanel.h"
#include "catalog/catalogtab.h"
#include "compare/comparemodel.h"
#include "compare/compareview.h"
#include "data/dataset.h"
#include "evaluation/evaluationtab.h"
#include "experiments/experimentstab.h"
#include "review/reviewtab.h"
#include "dialogs/endpointsdialog.h"
#include "dialogs/endpointsmodel.h"
#include "dialogs/importdialog.h"
#include "mainwindow.h"
#include "users/rerankpanel.h"
#include "common/tablefilterproxy.h"
#include "dialogs/traindialog.h"
#include "users/userstab.h"
#include "prompts/promptstab.h"

#include <QApplication>
#include <QComboBox>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QRadioButton>
#include <QDir>
#include <QEventLoop>
#include <QListWidget>
#include <QTimer>
#include <QLineEdit>
#include <QPixmap>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>

namespace recwb::ui {

namespace {

    void settle()
    {
        for (int i = 0; i < 3; ++i)
            QApplication::processEvents();
    }

    // Runs the event loop until `signal` fires or `ms` pass; true when it fired.
    template <typename Sender, typename Signal> bool waitFor(Sender* sender, Signal signal, int ms)
    {
        QEventLoop loop;
        bool fired = false;
        const auto connection = QObject::connect(sender, signal, &loop, [&] {
            fired = true;
            loop.quit();
        });
        QTimer::singleShot(ms, &loop, &QEventLoop::quit);
        loop.exec();
        QObject::disconnect(connection);
        return fired;
    }

    // Selects the first user of a status and waits for their candidates.
    void showFirstUser(UsersTab* users, UsersTab::StatusFilter filter)
    {
        users->setStatusFilter(filter);
        CandidatesPanel* panel = users->candidatesPanel();
        users->view()->clearSelection();
        settle();
        users->selectFirstRow();
        if (panel->shownUser() < 0 || panel->shownUser() != users->currentUser())
            waitFor(panel, &CandidatesPanel::candidatesShown, 120000);
    }

    QString mostCommonCategory(const Dataset& dataset)
    {
        std::vector<int> counts(static_cast<size_t>(dataset.categories.size()), 0);
        for (const Item& item : dataset.items)
            for (const int32_t c : item.categories)
                ++counts[static_cast<size_t>(c)];
        const auto best = std::max_element(counts.begin(), counts.end());
        return best == counts.end() ? QString()
                                    : dataset.categories.value(static_cast<qsizetype>(best - counts.begin()));
    }

} // namespace

QStringList saveScreenshots(MainWindow& window, const QString& dir, QString* error)
{
    const auto fail = [error](const QString& message) {
        if (error)
            *error = message;
        return QStringList();
    };
    const auto dataset = window.dataset();
    if (!dataset)
        return fail(QStringLiteral("no workspace is loaded"));
    if (!QDir().mkpath(dir))
        return fail(QStringLiteral("cannot create %1").arg(dir));

    QStringList written;
    const auto shoot = [&](const QString& name) {
        settle();
        const QString file = QDir(dir).filePath(name);
        if (window.grab().save(file))
            written << file;
        return QFileInfo::exists(file);
    };

    window.resize(1280, 800);
    window.show();
    CatalogTab* catalog = window.catalogTab();
    UsersTab* users = window.usersTab();

    window.tabs()->setCurrentWidget(catalog);
    catalog->filterEdit()->clear();
    catalog->view()->selectRow(0);
    if (!shoot(QStringLiteral("catalog.png")))
        return fail(QStringLiteral("cannot write catalog.png into %1").arg(dir));

    catalog->filterEdit()->setText(mostCommonCategory(*dataset));
    catalog->view()->selectRow(0);
    shoot(QStringLiteral("catalog-filtered.png"));
    catalog->filterEdit()->clear();

    window.tabs()->setCurrentWidget(users);
    showFirstUser(users, UsersTab::WarmUsers);
    shoot(QStringLiteral("users-warm.png"));

    // The same warm user reranked by the workspace's default endpoint (offline on the demo).
    users->stageTabs()->setCurrentWidget(users->rerankPanel());
    if (users->rerankPanel()->shownUser() != users->currentUser())
        waitFor(users->rerankPanel(), &RerankPanel::rerankShown, 120000);
    shoot(QStringLiteral("users-rerank.png"));
    users->stageTabs()->setCurrentWidget(users->candidatesPanel());

    showFirstUser(users, UsersTab::ColdUsers);
    shoot(QStringLiteral("users-cold.png"));

    // The same cold user with a stated category.
    if (QListWidget* stated = users->candidatesPanel()->categoriesList(); stated->count() > 0) {
        stated->item(0)->setCheckState(Qt::Checked);
        waitFor(users->candidatesPanel(), &CandidatesPanel::candidatesShown, 60000);
        shoot(QStringLiteral("users-cold-stated.png"));
        stated->item(0)->setCheckState(Qt::Unchecked);
    }
    users->setStatusFilter(UsersTab::AllUsers);

    // The prompt editor on listwise with the preview of the first warm user.
    if (PromptsTab* prompts = window.promptsTab()) {
        window.tabs()->setCurrentWidget(prompts);
        if (!prompts->hasPreview())
            waitFor(prompts, &PromptsTab::previewShown, 120000);
        // A wider version list, so the Note column is read whole (the demo has no labels:
        // the screenshot does not write any into the workspace).
        auto* splitter = prompts->findChild<QSplitter*>(QStringLiteral("promptSplitter"));
        const QList<int> sizes = splitter ? splitter->sizes() : QList<int>();
        if (splitter)
            splitter->setSizes({ 500, 420, 360 });
        shoot(QStringLiteral("prompts.png"));
        if (splitter)
            splitter->setSizes(sizes);
    }

    EvaluationTab* evaluation = window.evaluationTab();
    window.tabs()->setCurrentWidget(evaluation);
    evaluation->setSplit(QStringLiteral("ratio"));
    evaluation->setKs(QStringLiteral("10, 20"));
    evaluation->setModels({ QStringLiteral("pop"), QStringLiteral("itemknn"), QStringLiteral("ease"),
        QStringLiteral("ials"), QStringLiteral("coldstart") });
    if (evaluation->run()) {
        waitFor(evaluation, &EvaluationTab::runFinished, 600000);
        waitFor(evaluation, &EvaluationTab::chartUpdated, 30000);
        if (evaluation->compare(QStringLiteral("pop"), QStringLiteral("ease")))
            waitFor(evaluation, &EvaluationTab::comparisonFinished, 60000);
        shoot(QStringLiteral("evaluation.png"));
    }

    // The Compare tab on a warm user: plain CF, the offline reranker, iALS + offline, with loo.
    // Warm users are tried in order (at most 12) until a column lists the held-out item.
    if (CompareView* compare = window.compareView()) {
        window.tabs()->setCurrentWidget(compare);
        while (compare->columnCount() < 3)
            compare->addColumn();
        const QStringList specs { QStringLiteral("cf=ease,label=EASE (CF order)"),
            QStringLiteral("cf=ease,rerank=offline,label=EASE + offline rerank"),
            QStringLiteral("cf=ials,rerank=offline,label=iALS + offline rerank") };
        for (int i = 0; i < 3; ++i)
            compare->column(i)->setArm(pipeline::ArmSpec::parse(specs[i]));
        if (auto* split = compare->findChild<QComboBox*>(QStringLiteral("compareSplit")))
            split->setCurrentIndex(split->findData(QStringLiteral("loo")));
        // The row of a held-out item some column lists, or -1.
        const auto hitRow = [compare] {
            const QAbstractItemModel* m = compare->model();
            for (int r = 0; r < m->rowCount(); ++r)
                if (m->index(r, 0).data(HeldOutRole).toBool())
                    for (int c = 1; c < m->columnCount(); ++c)
                        if (m->index(r, c).data(RankRole).toInt() > 0)
                            return r;
            return -1;
        };
        // The table shows about six rows: prefer a hit among them, else the highest hit seen.
        const auto compareUser = [&](int32_t u) {
            compare->setUser(dataset->users[static_cast<size_t>(u)].externalId);
            return compare->run() && waitFor(compare, &CompareView::comparisonFinished, 120000) ? hitRow() : -1;
        };
        int row = -1;
        int32_t best = -1;
        int bestRow = -1;
        int tries = 0;
        for (int32_t u = 0; u < dataset->numUsers() && tries < 12 && (row < 0 || row >= 5); ++u) {
            if (dataset->isCold(u))
                continue;
            ++tries;
            row = compareUser(u);
            if (row >= 0 && (bestRow < 0 || row < bestRow)) {
                best = u;
                bestRow = row;
            }
        }
        if (best >= 0 && row != bestRow)
            row = compareUser(best);
        if (compare->model()->rowCount() > 0) {
            // the hit selected, so its cells light up in every column; ranks 1.. in view
            if (row >= 0)
                compare->table()->selectRow(row);
            compare->table()->scrollToTop();
            shoot(QStringLiteral("compare.png"));
        }
    }

    // The Experiments tab: EASE against EASE + the offline reranker on strat75, every user,
    // K 10 and 20, finished, with the results per arm and cohort and the paired comparisons.
    if (ExperimentsTab* experiments = window.experimentsTab()) {
        window.tabs()->setCurrentWidget(experiments);
        if (auto* name = experiments->findChild<QLineEdit*>(QStringLiteral("experimentName")))
            name->setText(QStringLiteral("Offline rerank vs EASE"));
        if (auto* ks = experiments->findChild<QLineEdit*>(QStringLiteral("experimentKs")))
            ks->setText(QStringLiteral("10, 20"));
        waitFor(experiments, &ExperimentsTab::projectionUpdated, 30000);
        if (experiments->run() && waitFor(experiments, &ExperimentsTab::experimentFinished, 600000)) {
            waitFor(experiments, &ExperimentsTab::chartsUpdated, 30000);
            experiments->refreshHistory();
            waitFor(experiments, &ExperimentsTab::historyLoaded, 30000);
            shoot(QStringLiteral("experiments.png"));
            if (auto* results = experiments->findChild<QTabWidget*>(QStringLiteral("experimentResults"))) {
                results->setCurrentIndex(2); // the charts
                settle();
                shoot(QStringLiteral("experiments-charts.png"));
                results->setCurrentIndex(0);
            }
        }
    }

    // The Review tab: a simulated cold@1 queue (offline reranker), three verdicts and a note.
    if (ReviewTab* review = window.reviewTab()) {
        window.tabs()->setCurrentWidget(review);
        review->setReviewer(QStringLiteral("qa-anna"));
        if (auto* sample = review->findChild<QSpinBox*>(QStringLiteral("reviewSample")))
            sample->setValue(60);
        if (auto* name = review->findChild<QLineEdit*>(QStringLiteral("reviewName")))
            name->setText(QStringLiteral("cold@1, offline, week 48"));
        if (review->build() && waitFor(review, &ReviewTab::queueOpened, 600000)) {
            review->giveVerdict(review::Verdict::Good);
            review->giveVerdict(review::Verdict::Bad);
            review->giveVerdict(review::Verdict::Unsure);
            if (auto* note = review->findChild<QLineEdit*>(QStringLiteral("reviewUserNote")))
                note->setText(QStringLiteral("checked against what they watched next"));
            settle();
            shoot(QStringLiteral("review.png"));
        }
    }

    // The endpoints dialog, opened from the Rerank tab, with the offline endpoint selected.
    if (EndpointsDialog* dialog = EndpointsDialog::showFor(window.workspacePath(), &window)) {
        dialog->resize(980, 640);
        if (dialog->model()->rowCount() == 0)
            waitFor(dialog, &EndpointsDialog::endpointsLoaded, 30000);
        // A new endpoint being filled in (not saved): a local Ollama server, key from a variable.
        if (auto* add = dialog->findChild<QPushButton*>(QStringLiteral("endpointAdd"))) {
            add->click();
            settle();
            const auto set = [dialog](const char* name, const QString& text) {
                if (auto* edit = dialog->findChild<QLineEdit*>(QLatin1String(name)))
                    edit->setText(text);
            };
            set("endpointName", QStringLiteral("local-ollama"));
            set("endpointBaseUrl", QStringLiteral("http://127.0.0.1:11434/v1"));
            set("endpointModel", QStringLiteral("llama3.1:8b"));
            if (auto* env = dialog->findChild<QRadioButton*>(QStringLiteral("endpointKeyEnvMode")))
                env->click();
            set("endpointKeyEnv", QStringLiteral("OLLAMA_API_KEY"));
        }
        settle();
        if (dialog->grab().save(QDir(dir).filePath(QStringLiteral("endpoints.png"))))
            written << QDir(dir).filePath(QStringLiteral("endpoints.png"));
        dialog->close();
    }

    if (TrainDialog* dialog = window.openTrainDialog()) {
        dialog->setAlgorithm(QStringLiteral("ials"));
        settle();
        if (dialog->grab().save(QDir(dir).filePath(QStringLiteral("train.png"))))
            written << QDir(dir).filePath(QStringLiteral("train.png"));
        dialog->close();
    }

    if (ImportDialog* dialog = window.openImportDialog()) {
        dialog->setFormat(ImportDialog::Generic);
        settle();
        if (dialog->grab().save(QDir(dir).filePath(QStringLiteral("import.png"))))
            written << QDir(dir).filePath(QStringLiteral("import.png"));
        dialog->close();
    }
    return written;
}

} // namespace recwb::ui
