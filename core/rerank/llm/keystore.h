#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QTimer>

namespace recwb::rerank {

// What a key store job came to.
struct KeyStoreResult {
    enum class Status {
        Ok, // written / deleted / a key is there
        NotFound, // has() or remove(): no such entry
        Unavailable, // no keychain: not built in, no Secret Service, no answer in time
        Failed, // the keychain answered with an error (access denied, ...)
    };
    Status status = Status::Ok;
    QString error; // for people: names the entry and the service; never a key
    bool ok() const { return status == Status::Ok; }
};

class KeyStore;

// One keychain operation in progress. finished() is emitted exactly once, always from the
// event loop (never inside KeyStore's call), and the job deleteLater()s itself right after.
// Thread contract: lives in its store's thread.
class KeyJob final : public QObject {
    Q_OBJECT

public:
    const QString& entry() const { return m_entry; }

signals:
    void finished(const recwb::rerank::KeyStoreResult& result);

private:
    friend class KeyStore;
    KeyJob(QObject* parent, const QString& entry);
    void finish(KeyStoreResult result);

    QString m_entry;
    QTimer m_deadline;
    bool m_finished = false;
};

// Writes, deletes and checks API keys in the OS keychain through QtKeychain, under one
// service name (LlmClientConfig::keychainService, "recwb" by default), so LlmClient reads
// what this writes. Asynchronous: no call blocks or spins an event loop. Without QtKeychain
// at build time every job ends Unavailable with "keychain support not built". The key
// bytes are never logged and never appear in a result.
// Thread contract: a QObject of the thread that created it; call it from there (it needs
// that thread's event loop).
class KeyStore final : public QObject {
    Q_OBJECT

public:
    explicit KeyStore(const QString& service = QStringLiteral("recwb"), QObject* parent = nullptr);

    const QString& service() const { return m_service; }
    // A keychain that does not answer within this time counts as unavailable (a D-Bus
    // session without a Secret Service can keep a request waiting for 25 s).
    void setTimeoutMs(int ms) { m_timeoutMs = ms; }

    KeyJob* write(const QString& entry, const QByteArray& key);
    KeyJob* remove(const QString& entry);
    KeyJob* has(const QString& entry); // Ok when a non-empty key is stored, else NotFound

    static bool supported(); // QtKeychain found at build time
    // The keychain entry name recwb uses for an endpoint: "endpoint:NAME".
    static QString entryForEndpoint(const QString& endpointName);

private:
    enum class Op { Write, Remove, Check };
    KeyJob* run(Op op, const QString& entry, const QByteArray& key);

    QString m_service;
    int m_timeoutMs = 15000;
};

} // namespace recwb::rerank

Q_DECLARE_METATYPE(recwb::rerank::KeyStoreResult)
