#include "common/modelstore.h"

#include "coldstart/coldstart.h"
#include "common/modelutil.h"
#include "data/dataset.h"
#include "data/workspace.h"
#include "pipeline/rerankservice.h"

#include <QElapsedTimer>
#include <QFutureWatcher>

namespace recwb::ui {

namespace {

    struct SnapshotListing {
        QList<cf::SnapshotInfo> snapshots;
        QString fingerprint;
    };

    const QString kSnapshotPrefix = QStringLiteral("snapshot:");
    const QString kAlgorithmPrefix = QStringLiteral("algorithm:");

} // namespace

ModelStore::ModelStore(QObject* parent)
    : QObject(parent)
    , m_rerank(new pipeline::RerankService(this))
{
    qRegisterMetaType<TrainingResult>();
    rebuildChoices({});
}

ModelStore::~ModelStore()
{
    cancelIfRunning(m_trainFuture);
}

QString ModelStore::snapshotKey(qint64 id)
{
    return kSnapshotPrefix + QString::number(id);
}

QString ModelStore::algorithmKey(const QString& algorithm)
{
    return kAlgorithmPrefix + algorithm;
}

void ModelStore::setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset)
{
    ++m_generation;
    cancelTraining();
    if (m_training) {
        m_training = false; // the old run's result is dropped with its generation
        emit trainingCanceled();
    }
    m_path = path;
    m_dataset = std::move(dataset);
    if (path.isEmpty())
        m_rerank->close();
    else
        m_rerank->open(path); // cancels the previous workspace's reranks
    m_fingerprint.clear();
    m_models.clear();
    m_coldStarts.clear();
    m_loading.clear();
    m_coldLoading.clear();
    m_errors.clear();
    rebuildChoices({});
    refreshSnapshots();
}

void ModelStore::refreshSnapshots()
{
    if (m_path.isEmpty() || !m_dataset)
        return;
    const quint64 generation = m_generation;
    auto future = runTask([path = m_path, dataset = m_dataset, fingerprint = m_fingerprint](const TaskControl&) {
        const auto ws = Workspace::open(path);
        SnapshotListing listing { cf::listSnapshots(*ws), fingerprint };
        if (listing.fingerprint.isEmpty())
            listing.fingerprint = cf::dataFingerprint(dataset->userItems);
        return listing;
    });
    continueOn(
        future, this,
        [this, generation](const TaskResult<SnapshotListing>& result) {
            if (generation != m_generation)
                return;
            if (!result.value) {
                qWarning("model snapshots: %s", qUtf8Printable(result.error));
                return;
            }
            m_fingerprint = result.value->fingerprint;
            rebuildChoices(result.value->snapshots);
        },
        [] {});
}

void ModelStore::rebuildChoices(const QList<cf::SnapshotInfo>& snapshots)
{
    m_choices.clear();
    QList<cf::SnapshotInfo> newestFirst = snapshots;
    std::sort(newestFirst.begin(), newestFirst.end(),
        [](const cf::SnapshotInfo& a, const cf::SnapshotInfo& b) { return a.id > b.id; });
    QStringList trained;
    for (const cf::SnapshotInfo& s : newestFirst) {
        ModelChoice c;
        c.key = snapshotKey(s.id);
        c.algorithm = s.algorithm;
        const QString when = isoDateTime(s.createdAt).left(16).replace(u'T', u' ');
        c.label = s.name == s.algorithm ? tr("%1 (snapshot %2, %3)").arg(s.algorithm).arg(s.id).arg(when)
                                        : tr("%1: %2 (snapshot %3, %4)").arg(s.name, s.algorithm).arg(s.id).arg(when);
        c.otherData = !m_fingerprint.isEmpty() && s.dataFingerprint != m_fingerprint;
        c.snapshot = s;
        trained << s.algorithm;
        m_choices << c;
    }
    for (const QString& algorithm : cf::recommenderNames()) {
        if (trained.contains(algorithm))
            continue;
        ModelChoice c;
        c.key = algorithmKey(algorithm);
        c.algorithm = algorithm;
        c.label = tr("%1 (not trained)").arg(algorithm);
        m_choices << c;
    }
    emit snapshotsChanged();
}

const ModelChoice* ModelStore::choice(const QString& key) const
{
    for (const ModelChoice& c : m_choices)
        if (c.key == key)
            return &c;
    return nullptr;
}

QString ModelStore::defaultKey() const
{
    for (const ModelChoice& c : m_choices)
        if (c.snapshot && !c.otherData)
            return c.key;
    // Without a snapshot the default is fitted in memory: EASE where its dense items x items
    // matrix is small (a few GB at 20,000 items), popularity above (a million items would
    // need terabytes for EASE; popularity fits in a pass).
    if (m_dataset && m_dataset->numItems() > kEaseDefaultMaxItems)
        return algorithmKey(QStringLiteral("popularity"));
    return algorithmKey(QStringLiteral("ease"));
}

std::shared_ptr<const cf::Recommender> ModelStore::model(const QString& key) const
{
    return m_models.value(key);
}

std::shared_ptr<const coldstart::ColdStartRecommender> ModelStore::coldStart(const QString& key) const
{
    return m_coldStarts.value(key);
}

bool ModelStore::isLoading(const QString& key) const
{
    return m_loading.value(key) || m_coldLoading.value(key);
}

bool ModelStore::request(const QString& key, bool withColdStart)
{
    if (!m_dataset)
        return false;
    if (!m_models.contains(key)) {
        if (!m_loading.value(key))
            startModelLoad(key);
        return false;
    }
    if (withColdStart && !m_coldStarts.contains(key)) {
        if (!m_coldLoading.value(key))
            startColdStartFit(key);
        return false;
    }
    return true;
}

void ModelStore::startModelLoad(const QString& key)
{
    m_loading[key] = true;
    m_errors.remove(key);
    const quint64 generation = m_generation;
    auto future = runTask([key, path = m_path, dataset = m_dataset](const TaskControl& control) {
        std::shared_ptr<const cf::Recommender> model;
        if (key.startsWith(kSnapshotPrefix)) {
            const auto ws = Workspace::open(path);
            model = cf::loadSnapshot(*ws, key.mid(kSnapshotPrefix.size()).toLongLong(), dataset->numItems());
        } else {
            auto fitted = cf::makeRecommender(key.mid(kAlgorithmPrefix.size()));
            fitted->fit(dataset->userItems, control);
            model = std::move(fitted);
        }
        return model;
    });
    continueOn(
        future, this,
        [this, key, generation](const TaskResult<std::shared_ptr<const cf::Recommender>>& result) {
            if (generation != m_generation)
                return;
            m_loading.remove(key);
            if (result.value) {
                m_models.insert(key, *result.value);
                emit modelReady(key);
            } else {
                m_errors.insert(key, result.canceled ? tr("Canceled") : result.error);
                emit modelFailed(key, m_errors.value(key));
            }
        },
        [this, key, generation] {
            if (generation == m_generation)
                m_loading.remove(key);
        });
}

void ModelStore::startColdStartFit(const QString& key)
{
    m_coldLoading[key] = true;
    const quint64 generation = m_generation;
    auto future = runTask([dataset = m_dataset, model = m_models.value(key)](const TaskControl& control) {
        coldstart::ColdStartConfig config;
        config.cfModel = model->algorithm();
        auto cold = std::make_shared<coldstart::ColdStartRecommender>(config);
        cold->fit(*dataset, dataset->userItems, model, control);
        return std::shared_ptr<const coldstart::ColdStartRecommender>(std::move(cold));
    });
    continueOn(
        future, this,
        [this, key, generation](const TaskResult<std::shared_ptr<const coldstart::ColdStartRecommender>>& result) {
            if (generation != m_generation)
                return;
            m_coldLoading.remove(key);
            if (result.value) {
                m_coldStarts.insert(key, *result.value);
                emit modelReady(key);
            } else {
                m_errors.insert(key, result.error);
                emit modelFailed(key, result.error);
            }
        },
        [this, key, generation] {
            if (generation == m_generation)
                m_coldLoading.remove(key);
        });
}

bool ModelStore::startTraining(const QString& algorithm, const QJsonObject& params, const QString& name)
{
    if (m_training || !m_dataset || m_path.isEmpty())
        return false;
    std::unique_ptr<cf::Recommender> model;
    try {
        model = cf::makeRecommender(algorithm, params); // unknown keys fail here, on the spot
    } catch (const Error& e) {
        emit trainingFailed(e.message());
        return false;
    }
    m_training = true;
    const quint64 generation = m_generation;
    std::shared_ptr<cf::Recommender> shared(std::move(model));
    m_trainFuture
        = runTask([shared, path = m_path, dataset = m_dataset,
                      name = name.trimmed().isEmpty() ? algorithm : name.trimmed()](const TaskControl& control) {
              if (dataset->numInteractions() == 0)
                  throw Error(QStringLiteral("%1: no interactions to train on (import some first)").arg(path));
              QElapsedTimer timer;
              timer.start();
              shared->fit(dataset->userItems, control);
              TrainingResult result;
              result.fitSeconds = static_cast<double>(timer.nsecsElapsed()) / 1e9;
              control.progress(1.0, QStringLiteral("Saving the snapshot…"));
              const auto ws = Workspace::open(path); // a Workspace belongs to the thread that opened it
              const qint64 id = cf::saveSnapshot(*ws, name, *shared, cf::dataFingerprint(dataset->userItems),
                  QJsonObject { { QStringLiteral("fit_seconds"), result.fitSeconds } });
              for (const cf::SnapshotInfo& s : cf::listSnapshots(*ws))
                  if (s.id == id)
                      result.snapshot = s;
              return result;
          });

    auto* watcher = new QFutureWatcher<TaskResult<TrainingResult>>(this);
    connect(watcher, &QFutureWatcherBase::progressValueChanged, this, [this, watcher, generation](int value) {
        if (generation == m_generation)
            emit trainingProgress(value, watcher->progressText());
    });
    connect(watcher, &QFutureWatcherBase::finished, watcher, &QObject::deleteLater);
    watcher->setFuture(m_trainFuture);

    continueOn(
        m_trainFuture, this,
        [this, generation, shared](const TaskResult<TrainingResult>& result) {
            if (generation != m_generation)
                return;
            m_training = false;
            refreshSnapshots();
            if (result.value) {
                // The fitted model is the snapshot's: cache it so choosing it costs nothing.
                m_models.insert(snapshotKey(result.value->snapshot.id), shared);
                emit trainingFinished(*result.value);
            } else if (result.canceled) {
                emit trainingCanceled();
            } else {
                emit trainingFailed(result.error);
            }
        },
        [this, generation] {
            if (generation != m_generation)
                return;
            m_training = false;
            refreshSnapshots(); // a cancel that came after the save must not hide the snapshot
            emit trainingCanceled();
        });
    return true;
}

void ModelStore::cancelTraining()
{
    cancelIfRunning(m_trainFuture);
}

} // namespace recwb::ui
