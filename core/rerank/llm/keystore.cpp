#include "rerank/llm/keystore.h"

#include <algorithm>

#ifdef RECWB_HAVE_QTKEYCHAIN
#include <qt6keychain/keychain.h>
#endif

namespace recwb::rerank {

namespace {
    // QtKeychain often says only "Unknown error" when there is no Secret Service: say what is missing.
    [[maybe_unused]] QString unavailableDetail(const QString& detail)
    {
        if (!detail.isEmpty() && detail != u"Unknown error")
            return detail;
        if (qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS"))
            return QStringLiteral(
                "no D-Bus session bus, so no Secret Service (GNOME Keyring, KWallet) to store keys in");
        return QStringLiteral("no Secret Service (GNOME Keyring, KWallet) answered on the D-Bus session bus");
    }
} // namespace

KeyJob::KeyJob(QObject* parent, const QString& entry)
    : QObject(parent)
    , m_entry(entry)
{
    m_deadline.setSingleShot(true);
}

void KeyJob::finish(KeyStoreResult result)
{
    if (m_finished)
        return;
    m_finished = true;
    m_deadline.stop();
    QMetaObject::invokeMethod(
        this,
        [this, result] {
            emit finished(result);
            deleteLater();
        },
        Qt::QueuedConnection);
}

KeyStore::KeyStore(const QString& service, QObject* parent)
    : QObject(parent)
    , m_service(service)
{
    qRegisterMetaType<KeyStoreResult>();
}

bool KeyStore::supported()
{
#ifdef RECWB_HAVE_QTKEYCHAIN
    return true;
#else
    return false;
#endif
}

QString KeyStore::entryForEndpoint(const QString& endpointName)
{
    return QStringLiteral("endpoint:") + endpointName;
}

KeyJob* KeyStore::write(const QString& entry, const QByteArray& key)
{
    return run(Op::Write, entry, key);
}

KeyJob* KeyStore::remove(const QString& entry)
{
    return run(Op::Remove, entry, {});
}

KeyJob* KeyStore::has(const QString& entry)
{
    return run(Op::Check, entry, {});
}

KeyJob* KeyStore::run(Op op, const QString& entry, const QByteArray& key)
{
    auto* job = new KeyJob(this, entry);
    const QString where = QStringLiteral("keychain entry '%1' (service %2)").arg(entry, m_service);
    if (entry.trimmed().isEmpty()) {
        job->finish({ KeyStoreResult::Status::Failed, QStringLiteral("a keychain entry needs a name") });
        return job;
    }
    if (op == Op::Write && key.trimmed().isEmpty()) {
        job->finish(
            { KeyStoreResult::Status::Failed, QStringLiteral("%1: refusing to store an empty key").arg(where) });
        return job;
    }
#ifdef RECWB_HAVE_QTKEYCHAIN
    // No parent: the backend's (libsecret's) callback still points at the QKeychain job when
    // the store goes away first (a dialog closed before its probe answered) and crashed in a
    // deleted job. autoDelete frees it when it ends; the KeyJob connection then is gone.
    QKeychain::Job* kc = nullptr;
    switch (op) {
    case Op::Write: {
        auto* w = new QKeychain::WritePasswordJob(m_service, nullptr);
        w->setBinaryData(key);
        kc = w;
        break;
    }
    case Op::Remove:
        kc = new QKeychain::DeletePasswordJob(m_service, nullptr);
        break;
    case Op::Check:
        kc = new QKeychain::ReadPasswordJob(m_service, nullptr);
        break;
    }
    kc->setAutoDelete(true);
    kc->setInsecureFallback(false); // never a plain-text file instead of a keychain
    kc->setKey(entry);
    const int timeoutMs = m_timeoutMs;
    QObject::connect(&job->m_deadline, &QTimer::timeout, job, [job, where, timeoutMs] {
        job->finish({ KeyStoreResult::Status::Unavailable,
            QStringLiteral("%1: the OS keychain did not answer within %2 s (is a Secret Service running?)")
                .arg(where)
                .arg(timeoutMs / 1000.0) });
    });
    QObject::connect(kc, &QKeychain::Job::finished, job, [job, op, where](QKeychain::Job* done) {
        const QKeychain::Error e = done->error();
        const QString detail = done->errorString();
        KeyStoreResult r;
        switch (e) {
        case QKeychain::NoError:
            if (op == Op::Check) {
                const auto* read = qobject_cast<QKeychain::ReadPasswordJob*>(done);
                if (!read || read->binaryData().trimmed().isEmpty())
                    r = { KeyStoreResult::Status::NotFound, QStringLiteral("%1 is empty").arg(where) };
            }
            break;
        case QKeychain::EntryNotFound:
            r = { KeyStoreResult::Status::NotFound, QStringLiteral("%1 does not exist").arg(where) };
            break;
        case QKeychain::AccessDeniedByUser:
        case QKeychain::AccessDenied:
        case QKeychain::CouldNotDeleteEntry:
            r = { KeyStoreResult::Status::Failed, QStringLiteral("%1: %2").arg(where, detail) };
            break;
        case QKeychain::NoBackendAvailable:
        case QKeychain::NotImplemented:
        case QKeychain::OtherError:
            // Without a Secret Service (or a session bus) QtKeychain reports one of these.
            r = { KeyStoreResult::Status::Unavailable,
                QStringLiteral("%1: the OS keychain is unavailable: %2").arg(where, unavailableDetail(detail)) };
            break;
        }
        job->finish(r);
    });
    job->m_deadline.start(std::max(1, m_timeoutMs));
    kc->start();
#else
    Q_UNUSED(op)
    Q_UNUSED(key)
    job->finish({ KeyStoreResult::Status::Unavailable,
        QStringLiteral("%1: keychain support not built (QtKeychain was not found at build time)").arg(where) });
#endif
    return job;
}

} // namespace recwb::rerank
