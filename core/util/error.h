#pragma once

#include <QString>
#include <stdexcept>

namespace recwb {

// Every failure that reaches a user is an Error with a message that names the file,
// line or request at fault. Core throws; the CLI and GUI catch at their boundary.
class Error : public std::runtime_error {
public:
    explicit Error(const QString& message)
        : std::runtime_error(message.toStdString())
        , m_message(message)
    {
    }
    const QString& message() const noexcept { return m_message; }

private:
    QString m_message;
};

// Thrown when the user cancels long work; never reported as an error.
class Canceled : public Error {
public:
    Canceled()
        : Error(QStringLiteral("canceled"))
    {
    }
};

} // namespace recwb
